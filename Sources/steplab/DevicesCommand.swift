import ArgumentParser
import Foundation
import OpenCLKit
import StepLabEngine

/// `steplab devices`: the OpenCL devices on this machine, as a table or JSON.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the OpenCL devices (the index, type or a name substring selects one with --device)."
    )

    @Flag(help: "Print the devices as JSON instead of a table.")
    var json = false

    @Option(help: "Show which device a selector picks: an index, gpu|cpu|accelerator, or a name substring (default: $STEPLAB_DEVICE, else the first GPU, else device 0).")
    var device: String?

    @Flag(help: "Also run a kernel round trip and a matmul on the selected device and compare with the CPU reference.")
    var check = false

    func run() throws {
        let devices: [Device]
        let selected: Device
        do {
            devices = try Devices.all()
            selected = try Devices.select(device)
        } catch {
            throw CLIError(error.description)
        }
        let infos = devices.map(\.info)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(infos), as: UTF8.self))
            return
        }
        print(DeviceTable.render(infos, selected: selected.info.index))
        if check {
            do {
                let engine = try Engine(context: Context(device: selected))
                for line in try DeviceCheck.run(engine) { print("check on \(selected.info.name): \(line)") }
            } catch let error as OpenCLError {
                throw CLIError(error.description)
            }
        }
    }
}

/// Renders device properties as an aligned text table.
enum DeviceTable {
    static func render(_ devices: [DeviceInfo], selected: Int) -> String {
        let header = [" #", "name", "type", "platform", "CUs", "MHz", "global MiB", "local KiB", "max WG", "OpenCL C", "fp64"]
        let rows = devices.map { d in
            [(d.index == selected ? "*" : " ") + String(d.index), d.name, d.kind.rawValue, d.platform, String(d.computeUnits), String(d.clockMHz),
             String(d.globalMemoryBytes >> 20), String(d.localMemoryBytes >> 10), String(d.maxWorkGroupSize),
             d.openCLCVersion, d.supportsFP64 ? "yes" : "no"]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n* = the device used by default"
    }
}
