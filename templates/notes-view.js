// The notes' MCP Apps view: it asks the host to start (ui/initialize), says it is ready,
// and renders the memory_list result the host hands it. Nothing is fetched and nothing
// the notes hold is read as HTML: every word goes in through textContent.
(function () {
  "use strict";
  var nextId = 1;
  var pending = {};
  var list = document.getElementById("notes");
  var status = document.getElementById("status");
  var more = document.getElementById("more");

  function send(message) {
    window.parent.postMessage(message, "*");
  }

  function request(method, params) {
    var id = nextId++;
    send({ jsonrpc: "2.0", id: id, method: method, params: params });
    return new Promise(function (resolve, reject) {
      pending[id] = { resolve: resolve, reject: reject };
    });
  }

  function applyTheme(context) {
    if (context && (context.theme === "light" || context.theme === "dark")) {
      document.documentElement.setAttribute("data-theme", context.theme);
    }
  }

  function tellSize() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    send({ jsonrpc: "2.0", method: "ui/notifications/size-changed", params: { height: height } });
  }

  function text(tag, className, words) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = words;
    return node;
  }

  function render(result) {
    var content = result && result.structuredContent;
    var notes = content && Array.isArray(content.notes) ? content.notes : null;
    list.textContent = "";
    if (result && result.isError) {
      status.textContent = "The list could not be read.";
    } else if (!notes) {
      status.textContent = "This result holds no list of notes.";
    } else if (notes.length === 0) {
      status.textContent = "No notes yet.";
    } else {
      status.textContent = notes.length === 1 ? "1 note" : notes.length + " notes";
      notes.forEach(function (note) {
        var item = document.createElement("li");
        item.appendChild(text("div", "title", String(note.title || note.id || "")));
        var meta = text("div", "meta", "");
        (Array.isArray(note.tags) ? note.tags : []).forEach(function (tag) {
          meta.appendChild(text("span", "tag", String(tag)));
        });
        if (note.created_at) {
          meta.appendChild(document.createTextNode(String(note.created_at).slice(0, 10)));
        }
        item.appendChild(meta);
        list.appendChild(item);
      });
    }
    more.hidden = !(content && content.nextCursor);
    tellSize();
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var m = event.data;
    if (!m || m.jsonrpc !== "2.0") return;
    if (m.method === undefined && pending[m.id]) {
      var waiting = pending[m.id];
      delete pending[m.id];
      if (m.error) waiting.reject(m.error);
      else waiting.resolve(m.result);
    } else if (m.method === "ui/notifications/tool-result") {
      render(m.params);
    } else if (m.method === "ui/notifications/host-context-changed") {
      applyTheme(m.params);
    } else if (m.method === "ping" && m.id !== undefined) {
      send({ jsonrpc: "2.0", id: m.id, result: {} });
    }
  });

  request("ui/initialize", {
    protocolVersion: "2026-01-26",
    appInfo: { name: "notes-list", version: "1.0.0" },
    appCapabilities: {}
  }).then(function (started) {
    applyTheme(started && started.hostContext);
    send({ jsonrpc: "2.0", method: "ui/notifications/initialized", params: {} });
  }, function () {
    status.textContent = "This view could not start: the app showing it did not answer.";
  });
})();
