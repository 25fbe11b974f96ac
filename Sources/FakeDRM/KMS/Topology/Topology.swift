/// The card's hardware as the config built it: CRTCs, encoders, connectors, planes, with
/// their index lookups. Under the device lock (connectors come and go at runtime).
///
/// @unchecked Sendable: read and written with the device lock held.
final class Topology: @unchecked Sendable {
    var crtcs: [CRTCObject] = []
    var encoders: [EncoderObject] = []
    var connectors: [ConnectorObject] = []
    var planes: [PlaneObject] = []

    func crtc(id: ObjectID) -> CRTCObject? { crtcs.first { $0.id == id } }
    func plane(id: ObjectID) -> PlaneObject? { planes.first { $0.id == id } }
    func connector(id: ObjectID) -> ConnectorObject? { connectors.first { $0.id == id && !$0.removed } }
    func encoder(id: ObjectID) -> EncoderObject? { encoders.first { $0.id == id } }
    /// The index of a connector clients can still see.
    func connectorIndex(id: ObjectID) -> Int? { connectors.firstIndex { $0.id == id && !$0.removed } }
    func crtcIndex(of id: ObjectID) -> Int? { id == 0 ? nil : crtcs.firstIndex { $0.id == id } }
    func planeIndex(of id: ObjectID) -> Int? { planes.firstIndex { $0.id == id } }
}
