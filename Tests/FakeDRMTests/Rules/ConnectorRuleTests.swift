import Testing
@testable import FakeDRM

/// The connector's rules (Objects/Connector.swift: ConnectorObject.set and checkRouting).
@Suite struct ConnectorRuleTests {
    typealias Row = AtomicRuleRow
    static let A = AtomicRuleRow.A
    static let rows: [Row] = [
        Row(name: "connector DPMS through atomic", errno: 22, reason: "DPMS") { c, _ in c.atomic(0, [(c.connectorID, [("DPMS", 0)])]) },
    ]

    @Test(arguments: rows) func rule(_ row: Row) throws { try row.check() }
}
