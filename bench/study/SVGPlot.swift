import Foundation

/// Minimal SVG charts written without external tools: line charts with error bars (log-2 x axis) and
/// scatter panels.
struct SVGPlot {
    var width = 640.0, height = 420.0
    var margin = (left: 70.0, right: 150.0, top: 40.0, bottom: 50.0)
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    struct Series {
        var name: String
        var points: [(x: Double, y: Double, error: Double)]
    }

    /// A line chart with one line per series; `logX` plots x on a log-2 axis.
    func lines(title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool, reference: (label: String, y: Double)? = nil) -> String {
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        guard !all.isEmpty else { return empty(title) }
        let xs = all.map { logX ? log2($0.x) : $0.x }
        let (x0, x1) = (xs.min()!, Swift.max(xs.max()!, xs.min()! + 1e-9))
        var y0 = Swift.min(0, all.map { $0.y - $0.error }.min()!), y1 = all.map { $0.y + $0.error }.max()!
        if let reference { y0 = Swift.min(y0, reference.y); y1 = Swift.max(y1, reference.y) }
        y1 = Swift.max(y1, y0 + 1e-9)
        let plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom
        func px(_ x: Double) -> Double { margin.left + ((logX ? log2(x) : x) - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { margin.top + (1 - (y - y0) / (y1 - y0)) * plotH }
        var svg = header(title)
        svg += axes(plotW: plotW, plotH: plotH, xLabel: xLabel, yLabel: yLabel)
        for tick in 0 ... 4 {
            let y = y0 + (y1 - y0) * Double(tick) / 4
            svg += text(margin.left - 8, py(y) + 4, String(format: "%.3g", y), anchor: "end")
        }
        let xTicks = Array(Set(all.map(\.x))).sorted()
        for x in xTicks { svg += text(px(x), height - margin.bottom + 18, String(format: "%g", x), anchor: "middle") }
        if let reference {
            svg += "<line x1='\(margin.left)' x2='\(margin.left + plotW)' y1='\(py(reference.y))' y2='\(py(reference.y))' stroke='#999' stroke-dasharray='4 3'/>\n"
            svg += text(margin.left + plotW + 6, py(reference.y) + 4, reference.label, anchor: "start", size: 11)
        }
        for (index, s) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let points = s.points.filter { $0.y.isFinite }.sorted { $0.x < $1.x }
            svg += "<polyline fill='none' stroke='\(color)' stroke-width='2' points='"
                + points.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ") + "'/>\n"
            for p in points {
                svg += String(format: "<circle cx='%.1f' cy='%.1f' r='3' fill='%@'/>\n", px(p.x), py(p.y), color)
                if p.error > 0 {
                    svg += String(format: "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%@'/>\n", px(p.x), px(p.x),
                                  py(p.y - p.error), py(p.y + p.error), color)
                }
            }
            let legendY = margin.top + 18 * Double(index)
            svg += "<rect x='\(width - margin.right + 10)' y='\(legendY)' width='12' height='12' fill='\(color)'/>\n"
            svg += text(width - margin.right + 28, legendY + 10, s.name, anchor: "start", size: 12)
        }
        return svg + "</svg>\n"
    }

    /// A grid of scatter panels: each panel draws `reference` in grey under the panel's points.
    static func scatterGrid(title: String, panels: [(label: String, points: [Float])], reference: [Float], columns: Int,
                            extent: (lo: Double, hi: Double)) -> String {
        let cell = 150.0, pad = 8.0, top = 40.0
        let rows = (panels.count + columns - 1) / columns
        let width = Double(columns) * cell, height = top + Double(rows) * (cell + 16)
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif'>\n"
        svg += "<rect width='100%' height='100%' fill='white'/>\n"
        svg += "<text x='\(width / 2)' y='24' text-anchor='middle' font-size='15'>\(escape(title))</text>\n"
        func coordinate(_ v: Float, _ origin: Double, flip: Bool) -> Double {
            let u = (Double(v) - extent.lo) / (extent.hi - extent.lo)
            return origin + pad + (flip ? 1 - u : u) * (cell - 2 * pad)
        }
        for (index, panel) in panels.enumerated() {
            let ox = Double(index % columns) * cell, oy = top + Double(index / columns) * (cell + 16)
            svg += "<rect x='\(ox + 2)' y='\(oy)' width='\(cell - 4)' height='\(cell - 4)' fill='none' stroke='#ccc'/>\n"
            for (points, color, radius) in [(reference, "#bbb", 0.8), (panel.points, "#1f77b4", 1.0)] {
                var i = 0
                while i + 1 < points.count {
                    let x = coordinate(points[i], ox, flip: false), y = coordinate(points[i + 1], oy, flip: true)
                    if x >= ox, x <= ox + cell, y >= oy, y <= oy + cell {
                        svg += String(format: "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='%@'/>", x, y, radius, color)
                    }
                    i += 2
                }
                svg += "\n"
            }
            svg += "<text x='\(ox + cell / 2)' y='\(oy + cell + 10)' text-anchor='middle' font-size='11'>\(escape(panel.label))</text>\n"
        }
        return svg + "</svg>\n"
    }

    func header(_ title: String) -> String {
        "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif'>\n"
            + "<rect width='100%' height='100%' fill='white'/>\n"
            + "<text x='\(width / 2)' y='24' text-anchor='middle' font-size='15'>\(Self.escape(title))</text>\n"
    }

    func axes(plotW: Double, plotH: Double, xLabel: String, yLabel: String) -> String {
        "<rect x='\(margin.left)' y='\(margin.top)' width='\(plotW)' height='\(plotH)' fill='none' stroke='#333'/>\n"
            + text(margin.left + plotW / 2, height - 12, xLabel, anchor: "middle")
            + "<text x='18' y='\(margin.top + plotH / 2)' transform='rotate(-90 18 \(margin.top + plotH / 2))' text-anchor='middle' font-size='12'>\(Self.escape(yLabel))</text>\n"
    }

    func text(_ x: Double, _ y: Double, _ s: String, anchor: String, size: Int = 11) -> String {
        String(format: "<text x='%.1f' y='%.1f' text-anchor='%@' font-size='%d'>%@</text>\n", x, y, anchor, size, Self.escape(s))
    }

    func empty(_ title: String) -> String { header(title) + "</svg>\n" }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
