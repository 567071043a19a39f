/// Plain-Swift references for the kernels: the executable documentation of what each kernel computes, used by
/// the tests. Each op's twin lives beside the op, as an `extension Reference` in the op's file.
public enum Reference {}
