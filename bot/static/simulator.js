"use strict";
// /dev/chat: one worker's phone, talking to the real /wechat webhook through /dev/chat/send.
const SEND_URL = document.currentScript.dataset.send;
const PUSHED_URL = document.currentScript.dataset.pushed;

// One worker per browser: the OpenID is kept, and a worker follows the account once, so a reload
// does not send another subscribe (?openid=… picks a worker; 换个职工 starts a new one).
const params = new URLSearchParams(location.search);
let openid = params.get("openid") || localStorage.getItem("simulator.openid");
if (!openid) openid = "o_browser_" + Math.random().toString(16).slice(2, 10);
localStorage.setItem("simulator.openid", openid);
const followed = JSON.parse(localStorage.getItem("simulator.followed") || "[]");
const isNew = !followed.includes(openid);
if (isNew) localStorage.setItem("simulator.followed", JSON.stringify([...followed, openid]));
document.getElementById("who").textContent = "这是开发用的模拟器，OpenID：" + openid;
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
    const r = await fetch(SEND_URL, {
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
document.getElementById("voice").addEventListener("click", () => {
  const t = document.getElementById("t"); const text = t.value.trim();
  if (text) { send({kind: "voice", text}, "🎤 " + text); t.value = ""; }
});
document.getElementById("place").addEventListener("click", () => {
  const t = document.getElementById("t"); const label = t.value.trim() || "北京市东城区";
  send({kind: "location", label}, "📍 " + label); t.value = "";
});
document.getElementById("newworker").addEventListener("click", () => {
  localStorage.removeItem("simulator.openid"); location.search = "";
});
if (isNew) send({kind: "event", event: "subscribe"}, "［关注公众号］");

// Messages the bot pushed through the (fake) WeChat API: reminders, staff replies, notices.
const pushedKey = "simulator.pushed." + openid;
setInterval(async () => {
  try {
    const after = localStorage.getItem(pushedKey) || 0;
    const r = await fetch(PUSHED_URL + "?" + new URLSearchParams({openid, after}));
    const data = await r.json();
    data.messages.forEach(text => bubble(text, "bot"));
    localStorage.setItem(pushedKey, data.after);
  } catch (e) { /* the server is restarting: try again next time */ }
}, 2000);
