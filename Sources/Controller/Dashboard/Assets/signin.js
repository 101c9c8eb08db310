// Says why the last sign-in failed (the page itself has no inline script).
if (new URLSearchParams(location.search).has("failed")) {
  document.getElementById("failed").hidden = false;
}
