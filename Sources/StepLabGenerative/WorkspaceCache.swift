import OpenCLKit

/// The workspace of the last batch size a sampler ran, kept for its next call: at large batches a workspace is
/// hundreds of MB, and allocating (and first touching) it on every call costs as much as a network evaluation.
/// A workspace holds only intermediate activations, never a result handed to the caller, so reuse is safe on
/// the engine's in-order queue.
final class WorkspaceCache<Workspace> {
    private let make: (Int) throws(OpenCLError) -> Workspace
    private var last: (batch: Int, workspace: Workspace)?

    init(make: @escaping (Int) throws(OpenCLError) -> Workspace) { self.make = make }

    func workspace(batch: Int) throws(OpenCLError) -> Workspace {
        if let last, last.batch == batch { return last.workspace }
        last = nil  // release the old one before allocating the new
        let workspace = try make(batch)
        last = (batch, workspace)
        return workspace
    }
}
