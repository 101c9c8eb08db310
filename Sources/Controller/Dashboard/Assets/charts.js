// Line charts on a canvas: one series, 0–100 %, time along the bottom. No library.

export function lineChart(canvas, points, { color = "#2f6fb3", label = "" } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 120;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.clearRect(0, 0, width, height);
  const left = 30, bottom = 16, top = 6, right = 6;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  context.font = "10px system-ui, sans-serif";
  context.fillStyle = "#67707c";
  context.strokeStyle = "#e4e7eb";
  context.lineWidth = 1;
  for (const level of [0, 50, 100]) {
    const y = top + plotHeight * (1 - level / 100);
    context.beginPath();
    context.moveTo(left, y);
    context.lineTo(width - right, y);
    context.stroke();
    context.fillText(`${level}%`, 2, y + 3);
  }
  const values = points.filter((point) => point.value !== null && point.value !== undefined);
  canvas.dataset.points = String(values.length);
  if (values.length === 0) {
    context.fillText(`no ${label} reported yet`, left + 8, top + plotHeight / 2);
    return;
  }
  const end = Date.now() / 1000;
  const start = end - 3600;
  const x = (t) => left + plotWidth * Math.min(1, Math.max(0, (t - start) / (end - start)));
  const y = (v) => top + plotHeight * (1 - Math.min(100, Math.max(0, v)) / 100);
  context.strokeStyle = color;
  context.fillStyle = color;
  context.lineWidth = 2;
  context.beginPath();
  values.forEach((point, index) => (index ? context.lineTo(x(point.at), y(point.value)) : context.moveTo(x(point.at), y(point.value))));
  context.stroke();
  const last = values[values.length - 1];
  context.beginPath();
  context.arc(x(last.at), y(last.value), 3, 0, Math.PI * 2);
  context.fill();
  context.fillStyle = "#67707c";
  context.fillText("−60 min", left, height - 3);
  context.fillText("now", width - right - 20, height - 3);
}
