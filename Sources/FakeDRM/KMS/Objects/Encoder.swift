/// An encoder: fixed routing between connectors and CRTCs (it has no state of its own in a
/// commit; the connector's routing check reads it). Immutable after the card is built.
final class EncoderObject {
    let id: ObjectID
    let index: Int
    let kind: EncoderKind
    let possibleCrtcs: UInt32
    let possibleClones: UInt32

    init(id: ObjectID, index: Int, kind: EncoderKind, possibleCrtcs: UInt32, possibleClones: UInt32) {
        self.id = id
        self.index = index
        self.kind = kind
        self.possibleCrtcs = possibleCrtcs
        self.possibleClones = possibleClones
    }

    var tag: String { "[ENCODER:\(id):\(kind)-\(index)]" }
}
