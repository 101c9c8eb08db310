// One subcloud: health charts from the controller's retained samples, firmware,
// installed content, config, alarms, events, deployments and backups. Reloaded
// when the feed says something of this subcloud (or its content tables) changed.
import { el, badge, alarmBadges, age, time, getJSON } from "./dom.js";
import { lineChart } from "./charts.js";

function table(headers, rows, id) {
  return el("table", { id }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, rows.length ? rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c ?? "–"))))
      : [el("tr", {}, el("td", { colspan: String(headers.length), class: "muted", text: "none" }))]));
}

function card(title, ...children) {
  return el("section", { class: "card" }, el("h2", { text: title }), ...children);
}

export function renderSubcloud(root, feed, name) {
  let stopped = false;
  let loading = null;
  const charts = {
    cpu: el("canvas", { class: "chart", id: "chart-cpu" }),
    memory: el("canvas", { class: "chart", id: "chart-memory" }),
    disk: el("canvas", { class: "chart", id: "chart-disk" }),
  };
  const header = el("div");
  const details = el("div", { class: "grid2" });
  root.replaceChildren(
    el("p", {}, el("a", { href: "#/fleet", text: "← Fleet" })),
    header,
    el("section", { class: "card" }, el("h2", { text: "Health, last hour" }),
      el("div", { class: "charts" }, ...Object.entries(charts).map(([key, canvas]) => el("div", {}, el("div", { class: "chart-title", text: key === "cpu" ? "CPU" : key === "memory" ? "Memory in use" : "Fullest disk" }), canvas)))),
    details);

  async function load() {
    const path = encodeURIComponent(name);
    const [subcloud, health, alarms, events, deployments, backups, config, installed] = await Promise.all([
      getJSON(`/v1/subclouds/${path}`),
      getJSON(`/v1/subclouds/${path}/health`),
      getJSON(`/v1/alarms?subcloud=${path}`),
      getJSON(`/v1/subclouds/${path}/events`),
      getJSON(`/v1/deployments?subcloud=${path}`).catch(() => []),
      getJSON(`/v1/backups?subcloud=${path}`).catch(() => []),
      getJSON(`/v1/config?subcloud=${path}`).catch(() => []),
      getJSON(`/v1/subclouds/${path}/installed`),
    ]);
    if (stopped) return;
    const row = feed.rows.get(name);
    header.replaceChildren(el("h1", { text: subcloud.name }),
      el("p", {}, badge(subcloud.availability), " ", badge(subcloud.management), " ", badge(subcloud.deployStatus),
        ` group ${subcloud.group} · agent ${subcloud.software ?? "–"} · last heard ${subcloud.lastSeenAt ? age(Date.parse(subcloud.lastSeenAt) / 1000) + " ago" : "never"}`,
        row ? el("span", {}, " · alarms ", ...alarmBadges(row.alarms)) : null));
    for (const key of Object.keys(charts)) {
      lineChart(charts[key], health.map((sample) => ({ at: sample.at, value: sample[key] })), { label: key, color: key === "cpu" ? "#2f6fb3" : key === "memory" ? "#7a4fb3" : "#1f8a4c" });
    }
    const sync = subcloud.sync;
    details.replaceChildren(
      card("Alarms", table(["Severity", "Alarm", "Entity", "Reason", "Raised"], alarms.map((a) => [badge(a.severity), a.alarmID, a.entity, a.reason, time(a.raisedAt)]), "subcloud-alarms")),
      card("Sync and config",
        el("p", {}, ...["config", "software", "images", "firmware"].map((area) => el("span", {}, `${area} `, badge(sync[area]), " "))),
        table(["Generation", "Applied", "Status", "Detail"], config.map((c) => [String(c.desired?.generation ?? "–"), String(c.state?.appliedGeneration ?? "–"), c.state?.status, c.state?.detail]))),
      card("Firmware", table(["Kind", "Name", "Vendor", "Version", "Released"], subcloud.firmware.map((f) => [f.kind, f.name, f.vendor, f.version, f.releaseDate]), "subcloud-firmware")),
      card("Installed content", table(["Kind", "Name", "Version", "Reported"], installed.map((i) => [i.kind, i.name, i.version.slice(0, 16), time(i.reportedAt)]), "subcloud-installed")),
      card("Deployments", table(["Kind", "Name", "Version", "State", "Detail"], deployments.slice(-20).reverse().map((d) => [d.kind, d.name, d.version.slice(0, 16), badge(d.state), d.detail]))),
      card("Backups", table(["Id", "State", "Archive", "Uploaded", "Created"], backups.slice(0, 10).map((b) => [String(b.id), badge(b.state), b.archiveBytes ? `${(b.archiveBytes / 1048576).toFixed(1)} MiB` : "–", `${b.chunksUploaded} chunks`, time(b.createdAt)]))),
      card("Events", el("ul", { class: "list", id: "subcloud-events" }, events.slice(0, 50).map((e) => el("li", {}, el("span", { class: "muted", text: time(e.at) }), ` ${e.kind}: ${e.detail}`)))));
  }

  function reload() {
    if (loading) return;
    loading = load().catch((error) => details.replaceChildren(el("p", { class: "error", text: String(error) }))).finally(() => {
      loading = null;
    });
  }
  reload();
  const off = feed.on((change) => {
    if (change.kind !== "delta") return;
    const delta = change.delta;
    if (delta.rows.some((row) => row.name === name) || delta.tables.length || (delta.events ?? []).some((e) => e.subcloud === name)) reload();
  });
  return () => { stopped = true; off(); };
}
