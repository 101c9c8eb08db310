// The dashboard: one live feed, pages chosen by the URL's hash.
import { Feed } from "./feed.js";
import { renderFleet } from "./fleet.js";
import { renderSubcloud } from "./subcloud.js";
import { renderAlarms, renderEvents, renderStrategies, renderUpdates } from "./lists.js";

const feed = new Feed();
let stop = () => {};

function route() {
  stop();
  const root = document.getElementById("view");
  const [page, argument] = location.hash.replace(/^#\/?/, "").split("/");
  for (const link of document.querySelectorAll("[data-nav]")) link.classList.toggle("active", link.dataset.nav === (page || "fleet"));
  switch (page) {
    case "subcloud": stop = renderSubcloud(root, feed, decodeURIComponent(argument ?? "")); break;
    case "alarms": stop = renderAlarms(root, feed); break;
    case "events": stop = renderEvents(root, feed); break;
    case "strategies": stop = renderStrategies(root, feed); break;
    case "updates": stop = renderUpdates(root, feed); break;
    default: stop = renderFleet(root, feed);
  }
  document.body.dataset.page = page || "fleet";
}

feed.on((change) => {
  if (change.kind !== "connection" && change.kind !== "snapshot") return;
  const live = document.getElementById("live");
  live.textContent = feed.connected ? "live" : "reconnecting…";
  live.classList.toggle("on", feed.connected);
  if (change.kind === "snapshot") document.body.dataset.loaded = "true";
});
window.addEventListener("hashchange", route);
feed.start();
route();
