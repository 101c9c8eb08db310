// Small DOM helpers. Text always goes in as text (never as HTML): names, alarm
// reasons and event details come from sites.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    // Through the CSSOM: the page's CSP refuses style attributes.
    else if (key === "style") for (const declaration of value.split(";")) {
      const [name, ...rest] = declaration.split(":");
      if (name.trim()) node.style.setProperty(name.trim(), rest.join(":").trim());
    }
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function badge(text, kind = text) {
  return el("span", { class: `badge b-${kind}`, text });
}

export const severities = ["critical", "major", "minor", "warning"];

export function alarmBadges(counts) {
  return severities.map((severity, index) =>
    badge(String(counts[index] ?? 0), counts[index] ? severity : "zero"));
}

export function age(seconds, now = Date.now() / 1000) {
  if (seconds === null || seconds === undefined) return "never";
  const delta = Math.max(0, Math.round(now - seconds));
  if (delta < 60) return `${delta}s`;
  if (delta < 3600) return `${Math.floor(delta / 60)}m`;
  if (delta < 86400) return `${Math.floor(delta / 3600)}h`;
  return `${Math.floor(delta / 86400)}d`;
}

/// A time from the feed (seconds since 1970) or the REST API (ISO 8601).
export function time(value) {
  if (value === null || value === undefined) return "–";
  return new Date(typeof value === "string" ? Date.parse(value) : value * 1000).toLocaleString();
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${value.toFixed(0)}%`;
}

/// GET a JSON document of the API with the session cookie; to sign-in when it ended.
export async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    location.href = "/signin";
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}
