// The fleet page: summary tiles, filters and one row per subcloud. Only the rows
// in view are in the DOM (a fixed row height and two spacer rows), so 10,000
// subclouds scroll and update as fast as 10.
import { el, badge, alarmBadges, age, percent } from "./dom.js";

const rowHeight = 28;
const areas = ["config", "software", "images", "firmware"];
const columns = [
  { key: "name", title: "Subcloud", width: "12%", value: (row) => row.name },
  { key: "group", title: "Group", width: "7%", value: (row) => row.group },
  { key: "availability", title: "Status", width: "7%", value: (row) => row.availability },
  { key: "management", title: "Mgmt", width: "7%", value: (row) => row.management },
  { key: "deploy", title: "Deploy", width: "8%", value: (row) => row.deploy },
  { key: "sync", title: "Sync C·S·I·F", width: "9%", value: (row) => row.sync.filter((s) => s === "out-of-sync").length },
  { key: "alarms", title: "Alarms C·M·m·w", width: "11%", value: (row) => row.alarms[0] * 1e6 + row.alarms[1] * 1e4 + row.alarms[2] * 100 + row.alarms[3] },
  { key: "seen", title: "Heard", width: "6%", value: (row) => -(row.seen ?? 0) },
  { key: "cpu", title: "CPU", width: "5%", value: (row) => row.cpu ?? -1 },
  { key: "memory", title: "Mem", width: "5%", value: (row) => row.memory ?? -1 },
  { key: "disk", title: "Disk", width: "5%", value: (row) => row.disk ?? -1 },
  { key: "agent", title: "Agent", width: "9%", value: (row) => row.agent ?? "" },
  { key: "commit", title: "Commit", width: "9%", value: (row) => row.commit ?? "" },
];

const view = { text: "", group: "", status: "", outOfSync: false, critical: false, sort: "name", descending: false, scrollTop: 0 };

export function outOfSync(row) {
  return row.sync.includes("out-of-sync");
}

function matches(row) {
  if (view.group && row.group !== view.group) return false;
  if (view.status === "online" || view.status === "offline") { if (row.availability !== view.status) return false; }
  else if (view.status === "unmanaged" || view.status === "managed") { if (row.management !== view.status) return false; }
  else if (view.status && row.deploy !== view.status) return false;
  if (view.outOfSync && !outOfSync(row)) return false;
  if (view.critical && !row.alarms[0]) return false;
  if (view.text) {
    const text = view.text.toLowerCase();
    const haystack = `${row.name} ${row.group} ${row.agent ?? ""} ${row.commit ?? ""} ${row.deploy}`.toLowerCase();
    if (!haystack.includes(text)) return false;
  }
  return true;
}

function tiles(feed) {
  const rows = [...feed.rows.values()];
  const online = rows.filter((row) => row.availability === "online").length;
  const known = rows.filter((row) => row.sync.some((s) => s !== "unknown"));
  const behind = rows.filter(outOfSync).length;
  const alarms = [0, 0, 0, 0];
  for (const row of rows) row.alarms.forEach((count, index) => (alarms[index] += count));
  const running = feed.strategies.filter((s) => s.state === "applying" || s.state === "aborting").length;
  const tile = (id, value, label) => el("div", { class: "tile", id }, el("div", { class: "value", text: String(value) }), el("div", { class: "label", text: label }));
  return el("div", { class: "tiles" },
    tile("tile-online", online, "online"),
    tile("tile-offline", rows.length - online, "offline"),
    tile("tile-in-sync", known.length - behind, "in sync"),
    tile("tile-out-of-sync", behind, "out of sync"),
    tile("tile-critical", alarms[0], "critical alarms"),
    tile("tile-major", alarms[1], "major alarms"),
    tile("tile-minor", alarms[2] + alarms[3], "minor / warning"),
    tile("tile-strategies", running, "strategies running"));
}

function cells(row) {
  return [
    el("td", { text: row.name, title: row.name }),
    el("td", { text: row.group }),
    el("td", {}, badge(row.availability)),
    el("td", {}, badge(row.management)),
    el("td", {}, badge(row.deploy)),
    el("td", { class: "sync" }, row.sync.map((status, index) => el("span", { class: `badge b-${status}`, title: `${areas[index]}: ${status}`, text: areas[index][0].toUpperCase() }))),
    el("td", {}, alarmBadges(row.alarms)),
    el("td", { text: row.availability === "online" && row.seen ? age(row.seen) : row.seen ? `${age(row.seen)} ago` : "never" }),
    el("td", { text: percent(row.cpu) }),
    el("td", { text: percent(row.memory) }),
    el("td", { text: percent(row.disk) }),
    el("td", { text: row.agent ?? "–", title: row.agent ?? "" }),
    el("td", { text: row.commit ? row.commit.slice(0, 10) : "–", title: row.commit ?? "" }),
  ];
}

export function renderFleet(root, feed) {
  let visible = [];
  const count = el("span", { class: "count", id: "fleet-count" });
  const body = el("tbody");
  const scroller = el("div", { class: "scroller", id: "fleet-scroller" });
  const tilesHost = el("div");
  const groups = el("select", { id: "filter-group", onchange: (event) => { view.group = event.target.value; refresh(); } });
  const head = el("tr", {}, columns.map((column) => el("th", {
    "data-sort": column.key, style: `width:${column.width}`, text: column.title,
    onclick: () => {
      view.descending = view.sort === column.key ? !view.descending : false;
      view.sort = column.key;
      refresh();
    },
  })));
  const filters = el("div", { class: "filters" },
    el("input", { type: "search", id: "filter-text", placeholder: "Filter: name, group, agent, commit…", value: view.text,
      oninput: (event) => { view.text = event.target.value; refresh(); } }),
    groups,
    el("select", { id: "filter-status", onchange: (event) => { view.status = event.target.value; refresh(); } },
      ["", "online", "offline", "managed", "unmanaged", "enrolled", "awaiting-enrolment", "installing", "complete", "install-failed", "deploy-failed"]
        .map((status) => el("option", { value: status, selected: view.status === status, text: status || "any status" }))),
    el("label", {}, el("input", { type: "checkbox", id: "filter-out-of-sync", checked: view.outOfSync,
      onchange: (event) => { view.outOfSync = event.target.checked; refresh(); } }), " out of sync"),
    el("label", {}, el("input", { type: "checkbox", id: "filter-critical", checked: view.critical,
      onchange: (event) => { view.critical = event.target.checked; refresh(); } }), " has critical alarms"),
    count);
  scroller.append(el("table", { id: "fleet-table" }, el("thead", {}, head), body));
  root.replaceChildren(el("h1", { text: "Fleet" }), tilesHost, filters, el("div", { class: "table" }, scroller));

  function refresh() {
    const names = [...new Set([...feed.rows.values()].map((row) => row.group))].sort();
    if (groups.options.length !== names.length + 1 || [...groups.options].some((option, index) => index && option.value !== names[index - 1])) {
      groups.replaceChildren(el("option", { value: "", text: "any group" }), ...names.map((name) => el("option", { value: name, selected: view.group === name, text: name })));
    }
    const column = columns.find((c) => c.key === view.sort) ?? columns[0];
    visible = [...feed.rows.values()].filter(matches);
    visible.sort((a, b) => {
      const left = column.value(a), right = column.value(b);
      const order = left < right ? -1 : left > right ? 1 : a.name < b.name ? -1 : 1;
      return view.descending ? -order : order;
    });
    for (const th of head.children) {
      th.classList.toggle("sorted", th.dataset.sort === view.sort);
      th.classList.toggle("desc", th.dataset.sort === view.sort && view.descending);
    }
    count.textContent = `${visible.length} of ${feed.rows.size}`;
    tilesHost.replaceChildren(tiles(feed));
    draw();
  }

  function draw() {
    const first = Math.max(0, Math.floor(scroller.scrollTop / rowHeight) - 10);
    const shown = Math.ceil((scroller.clientHeight || 600) / rowHeight) + 20;
    const last = Math.min(visible.length, first + shown);
    const pad = (height) => el("tr", { class: "pad" }, el("td", { colspan: String(columns.length), style: `height:${height}px` }));
    const rows = visible.slice(first, last).map((row) => el("tr", {
      "data-name": row.name, "data-availability": row.availability,
      "data-critical": String(row.alarms[0]),
      onclick: () => { location.hash = `#/subcloud/${encodeURIComponent(row.name)}`; },
    }, cells(row)));
    body.replaceChildren(pad(first * rowHeight), ...rows, pad((visible.length - last) * rowHeight));
  }

  let scheduled = false;
  scroller.addEventListener("scroll", () => {
    view.scrollTop = scroller.scrollTop;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; draw(); });
  });
  refresh();
  scroller.scrollTop = view.scrollTop;
  return feed.on((change) => {
    if (change.kind === "connection") return;
    if (change.kind === "delta" && change.delta.rows.length === 0 && change.delta.removed.length === 0 && !change.delta.strategies) return;
    refresh();
  });
}
