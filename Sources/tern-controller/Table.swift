/// Renders rows as an aligned plain-text table for people; `--json` is for scripts.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: String...) { self.rows.append(cells) }

    func render() -> String {
        var widths = self.headers.map(\.count)
        for row in self.rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var output = line(self.headers.map { $0.uppercased() })
        for row in self.rows { output += "\n" + line(row) }
        return output
    }
}

import Foundation
