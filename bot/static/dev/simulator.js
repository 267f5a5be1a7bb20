// The /dev/chat page: messages go through the real webhook (served as a file: the CSP forbids inline script).
"use strict";
const openid = document.body.dataset.openid;
const sendUrl = document.body.dataset.sendUrl;
const log = document.getElementById("log");
function bubble(text, who) {
  const row = document.createElement("div");
  row.className = "row " + who;
  if (who === "bot") { const a = document.createElement("div"); a.className = "avatar"; a.textContent = "工会"; row.appendChild(a); }
  const b = document.createElement("div"); b.className = "bubble"; b.textContent = text; row.appendChild(b);
  log.appendChild(row); log.scrollTop = log.scrollHeight;
}
async function send(payload, shown) {
  if (shown) bubble(shown, "me");
  try {
    const r = await fetch(sendUrl, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({openid, ...payload})});
    if (!r.ok) { bubble("（模拟器出错：HTTP " + r.status + "）", "bot"); return; }
    const data = await r.json();
    document.getElementById("mode").textContent = "本地模拟 · " + data.mode + " · 经由真实的 /wechat 接口";
    if (data.reply) bubble(data.reply, "bot");
  } catch (e) { bubble("（连接失败，请确认服务已启动）", "bot"); }
}
document.getElementById("f").addEventListener("submit", e => {
  e.preventDefault(); const t = document.getElementById("t"); const text = t.value.trim();
  if (text) { send({kind: "text", text}, text); t.value = ""; }
});
document.querySelectorAll(".menu button").forEach(b => b.addEventListener("click",
  () => send({kind: "event", event: "CLICK", key: b.dataset.key}, "［菜单］" + b.textContent)));
send({kind: "event", event: "subscribe"}, null);
