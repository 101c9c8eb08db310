// Alarms, events, strategies and required updates, live from the feed.
import { el, badge, time, severities } from "./dom.js";

export function renderAlarms(root, feed) {
  const filter = { severity: "", subcloud: "", since: 0 };
  const list = el("tbody");
  const count = el("span", { class: "count", id: "alarm-count" });
  root.replaceChildren(el("h1", { text: "Alarms" }),
    el("div", { class: "filters" },
      el("select", { id: "alarm-severity", onchange: (e) => { filter.severity = e.target.value; draw(); } },
        ["", ...severities].map((s) => el("option", { value: s, text: s || "any severity" }))),
      el("input", { type: "search", id: "alarm-subcloud", placeholder: "subcloud", oninput: (e) => { filter.subcloud = e.target.value; draw(); } }),
      el("select", { id: "alarm-since", onchange: (e) => { filter.since = Number(e.target.value); draw(); } },
        [["0", "raised any time"], ["300", "in the last 5 min"], ["3600", "in the last hour"], ["86400", "in the last day"]].map(([v, t]) => el("option", { value: v, text: t }))),
      count),
    el("div", { class: "table card" }, el("table", { id: "alarm-table" },
      el("thead", {}, el("tr", {}, ["Severity", "Subcloud", "Alarm", "Entity", "Reason", "Raised"].map((h) => el("th", { text: h })))), list)));
  function draw() {
    const order = (severity) => severities.indexOf(severity);
    const shown = feed.alarms
      .filter((a) => (!filter.severity || a.severity === filter.severity) && (!filter.subcloud || a.subcloud.includes(filter.subcloud))
        && (!filter.since || a.raisedAt >= Date.now() / 1000 - filter.since))
      .sort((a, b) => order(a.severity) - order(b.severity) || b.raisedAt - a.raisedAt);
    count.textContent = `${shown.length} active`;
    list.replaceChildren(...shown.slice(0, 2000).map((a) => el("tr", { "data-alarm": `${a.subcloud}/${a.alarmID}/${a.entity}` },
      el("td", {}, badge(a.severity)), el("td", {}, el("a", { href: `#/subcloud/${encodeURIComponent(a.subcloud)}`, text: a.subcloud })),
      el("td", { text: a.alarmID }), el("td", { text: a.entity }), el("td", { text: a.reason, title: a.repairAction }), el("td", { text: time(a.raisedAt) }))));
  }
  draw();
  return feed.on((change) => { if (change.kind === "snapshot" || change.delta?.alarms) draw(); });
}

export function renderEvents(root, feed) {
  const filter = { text: "", subcloud: "", since: 0 };
  const list = el("ul", { class: "list", id: "event-list" });
  root.replaceChildren(el("h1", { text: "Events" }),
    el("div", { class: "filters" },
      el("input", { type: "search", id: "event-subcloud", placeholder: "subcloud", oninput: (e) => { filter.subcloud = e.target.value; draw(); } }),
      el("input", { type: "search", id: "event-text", placeholder: "text", oninput: (e) => { filter.text = e.target.value.toLowerCase(); draw(); } }),
      el("select", { id: "event-since", onchange: (e) => { filter.since = Number(e.target.value); draw(); } },
        [["0", "any time"], ["300", "last 5 min"], ["3600", "last hour"], ["86400", "last day"]].map(([v, t]) => el("option", { value: v, text: t })))),
    el("div", { class: "card" }, list));
  function draw() {
    const now = Date.now() / 1000;
    const shown = feed.events.filter((e) => (!filter.subcloud || (e.subcloud ?? "").includes(filter.subcloud))
      && (!filter.text || `${e.kind} ${e.detail}`.toLowerCase().includes(filter.text)) && (!filter.since || e.at >= now - filter.since));
    list.replaceChildren(...shown.slice().reverse().slice(0, 500).map((e) => el("li", { "data-event": String(e.id) },
      el("span", { class: "muted", text: time(e.at) }), " ", el("strong", { text: e.subcloud ?? "controller" }), ` ${e.kind}: ${e.detail}`)));
  }
  draw();
  return feed.on((change) => { if (change.kind === "snapshot" || change.delta?.events) draw(); });
}

export function renderStrategies(root, feed) {
  const host = el("div", { id: "strategy-list" });
  root.replaceChildren(el("h1", { text: "Strategies" }), host);
  function draw() {
    if (!feed.strategies.length) {
      host.replaceChildren(el("p", { class: "muted", text: "No strategies. Create one with `tern-controller strategy create`." }));
      return;
    }
    host.replaceChildren(...feed.strategies.map((s) => {
      const part = (states, cls) => {
        const n = states.reduce((sum, state) => sum + (s.counts[state] ?? 0), 0);
        return n ? el("span", { class: cls, style: `width:${(n * 100) / Math.max(1, s.steps)}%`, title: `${states.join("/")}: ${n}` }) : null;
      };
      return el("section", { class: "card", "data-strategy": s.type },
        el("h2", {}, `${s.type} `, badge(s.state, s.state), ` ${s.percentDone}%`),
        el("p", { class: "muted", text: `${s.content} · ${s.targets} · ${s.steps} steps` }),
        el("div", { class: "progress" }, part(["complete"], "p-complete"), part(["failed"], "p-failed"),
          part(["applying", "prestaging", "verifying"], "p-active"), part(["skipped", "aborted"], "p-skipped")),
        el("p", {}, Object.entries(s.counts).map(([state, n]) => el("span", {}, badge(`${state} ${n}`, state), " "))));
    }));
  }
  draw();
  return feed.on((change) => { if (change.kind === "snapshot" || change.delta?.strategies) draw(); });
}

export function renderUpdates(root, feed) {
  const host = el("div", { id: "update-list" });
  root.replaceChildren(el("h1", { text: "Required updates" }), host);
  function draw() {
    if (!feed.updates.length) {
      host.replaceChildren(el("p", { class: "muted", text: "No releases imported yet." }));
      return;
    }
    host.replaceChildren(el("div", { class: "card" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Kind", "Name", "Newest", "Current", "Behind"].map((h) => el("th", { text: h })))),
      el("tbody", {}, feed.updates.map((u) => el("tr", { "data-update": `${u.kind}/${u.name}` },
        el("td", { text: u.kind }), el("td", { text: u.name }), el("td", { text: u.newest.slice(0, 16), title: u.newest }),
        el("td", { text: String(u.current) }),
        el("td", {}, u.behind.length ? u.behind.slice(0, 50).map((name) => el("a", { href: `#/subcloud/${encodeURIComponent(name)}`, text: `${name} ` })) : "none", u.behind.length > 50 ? ` … ${u.behind.length - 50} more` : "")))))));
  }
  draw();
  return feed.on((change) => { if (change.kind === "snapshot" || change.delta?.updates) draw(); });
}
