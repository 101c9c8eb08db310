import Hummingbird

/// The dashboard's static files (`Assets/`, embedded in the binary by SwiftPM):
/// HTML, CSS and plain ES modules, no build chain and no third-party code.
enum DashboardAssets {
    static let files: [String: (type: String, bytes: [UInt8])] = [
        "index.html": ("text/html; charset=utf-8", PackageResources.index_html),
        "signin.html": ("text/html; charset=utf-8", PackageResources.signin_html),
        "signin.js": ("text/javascript; charset=utf-8", PackageResources.signin_js),
        "app.css": ("text/css; charset=utf-8", PackageResources.app_css),
        "app.js": ("text/javascript; charset=utf-8", PackageResources.app_js),
        "charts.js": ("text/javascript; charset=utf-8", PackageResources.charts_js),
        "dom.js": ("text/javascript; charset=utf-8", PackageResources.dom_js),
        "feed.js": ("text/javascript; charset=utf-8", PackageResources.feed_js),
        "fleet.js": ("text/javascript; charset=utf-8", PackageResources.fleet_js),
        "lists.js": ("text/javascript; charset=utf-8", PackageResources.lists_js),
        "subcloud.js": ("text/javascript; charset=utf-8", PackageResources.subcloud_js),
    ]

    static func response(for name: String) -> Response {
        guard let file = self.files[name] else { return Response(status: .notFound) }
        var headers = HTTPFields()
        headers[.contentType] = file.type
        // Small files, always revalidated: an upgraded controller serves its own at once.
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
