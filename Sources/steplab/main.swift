import ArgumentParser

StepLabCommand.main()
