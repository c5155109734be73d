// The simulator's page: draws the box from the snapshots the simulator
// pushes over /live, lists its events, and sends every button and the
// command line as a command of the simulator's one command set.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var ws;
  var nextId = 1;
  var pending = {};
  var svgNs = "http://www.w3.org/2000/svg";

  function send(line) {
    var id = nextId++;
    return new Promise(function (resolve) {
      pending[id] = resolve;
      ws.send(JSON.stringify({ type: "command", id: id, line: line }));
    });
  }

  function show(answer) {
    var a = $("answer");
    a.textContent = answer.text;
    a.className = answer.ok ? "" : "bad";
    a.setAttribute("data-ok", String(answer.ok));
  }

  function run(line) {
    $("answer").textContent = "> " + line + " …";
    $("answer").removeAttribute("data-ok");
    return send(line).then(show);
  }

  function set(el, attr, value) {
    el.setAttribute(attr, String(value));
  }

  function draw(s) {
    $("box-id").textContent = s.boxId || "";
    var latch = s.latch;
    var st = $("latch-state");
    st.textContent = latch ? latch.state.toUpperCase() : "—";
    set(st, "data-state", latch ? latch.state : "off");
    $("latch-reason").textContent = latch ? "why: " + latch.reason : "";
    $("way-out").textContent = latch && latch.wayOut ? "Fault " + latch.reason + ". The way out: clear the cause, then " + latch.wayOut + " (present a grant that allows lock)." : "";
    $("power-off").setAttribute("visibility", s.powered ? "hidden" : "visible");

    // the bolt slides between retracted (0) and thrown into the lid's catch (1)
    var bolt = $("bolt");
    bolt.setAttribute("y", String(136 - 32 * s.bolt.position));
    set(bolt, "data-position", s.bolt.position.toFixed(2));
    set(bolt, "data-motor", s.bolt.motor);
    set(bolt, "data-jammed", s.bolt.jammed);
    set($("bolt-switch"), "data-closed", s.bolt.switchClosed);
    set($("lid"), "data-open", s.lid.open);
    set($("key"), "data-inside", s.key.inside);
    set($("led"), "data-on", s.led);
    set($("buzzer"), "data-hz", s.buzzerHz);
    $("buzzer-text").textContent = s.buzzerHz ? s.buzzerHz + " Hz" : "buzzer";

    var mv = s.battery.mv;
    var frac = Math.max(0, Math.min(1, (mv - 3300) / (4200 - 3300)));
    var fill = $("battery-fill");
    fill.setAttribute("width", String(Math.round(66 * frac)));
    set(fill, "data-low", mv < 3400);
    $("battery-text").textContent = mv + " mV";
    set($("battery"), "data-mv", mv);

    var m = s.modem;
    set($("modem"), "data-power", m.power);
    set($("modem"), "data-link", m.link);
    set($("modem"), "data-coverage", m.coverage);
    var bars = m.power === "on" ? (m.coverage === "home" ? 3 : m.coverage === "roaming" ? 2 : 0) : 0;
    for (var i = 1; i <= 3; i++) set($("bar" + i), "data-on", i <= bars);
    set($("link-dot"), "data-up", m.link);
    $("modem-text").textContent = "modem " + m.power + (m.link ? ", linked" : "");

    var t = s.time;
    $("clock").textContent = new Date(t.wall * 1000).toISOString().replace(/\.\d+Z$/, "Z") + (t.rate === 0 ? " paused" : " ×" + t.rate);
    set($("clock"), "data-rate", t.rate);
    $("extra").textContent = (s.extra || []).join("\n");
  }

  function addEvents(list) {
    var ol = $("timeline");
    for (var i = 0; i < list.length; i++) {
      var e = list[i];
      var li = document.createElement("li");
      li.textContent = e.line;
      li.setAttribute("data-type", e.type);
      li.setAttribute("data-reason", e.reason);
      if (/refused|_refused$/.test(e.type) || (e.type === "access" && e.reason !== "granted")) li.className = "refusal";
      if (e.reason === "fault") li.className = "fault";
      if (e.type === "tamper") li.className = "tamper";
      ol.appendChild(li);
    }
    ol.scrollTop = ol.scrollHeight;
  }

  function connect() {
    ws = new WebSocket("ws://" + location.host + "/live");
    ws.onopen = function () { set($("conn"), "data-state", "open"); $("conn").textContent = "live"; };
    ws.onclose = function () {
      set($("conn"), "data-state", "closed");
      $("conn").textContent = "disconnected (is the simulator running?)";
      setTimeout(connect, 2000);
    };
    ws.onmessage = function (msg) {
      var m = JSON.parse(msg.data);
      if (m.type === "hello") {
        $("timeline").textContent = "";
        addEvents(m.events);
        draw(m.snapshot);
        $("line").setAttribute("title", m.commands.map(function (c) { return c.name + " " + c.args; }).join("\n"));
      } else if (m.type === "snapshot") draw(m.snapshot);
      else if (m.type === "events") addEvents(m.events);
      else if (m.type === "answer" && pending[m.id]) {
        pending[m.id](m);
        delete pending[m.id];
      }
    };
  }

  function present(kind) {
    var f = $("grant-file").files[0];
    if (!f) return show({ ok: false, text: "error: choose a grant file first (npm run issuer -- mint ... --out grant.kbg)" });
    var reader = new FileReader();
    reader.onload = function () {
      var bytes = new Uint8Array(reader.result);
      var bin = "";
      for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
      // base64 of the file's bytes: the command takes a file or its base64
      run("grant " + btoa(bin) + " " + kind);
    };
    reader.readAsArrayBuffer(f);
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button[data-cmd]") : null;
    if (b) run(b.getAttribute("data-cmd"));
  });
  $("present-unlock").addEventListener("click", function () { present("unlock"); });
  $("present-lock").addEventListener("click", function () { present("lock"); });
  $("prompt").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var line = $("line").value;
    if (line.trim()) run(line);
  });
  connect();
})();
