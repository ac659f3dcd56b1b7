// OMFLOW pages: small enhancements on top of server-rendered HTML. Every page
// works without this file; with it, the inbox updates live (server-sent
// events), typed input survives a lost connection (sessionStorage), and
// ticket forms are sent without leaving the page, so a failed send loses
// nothing.
(function () {
  "use strict";

  var body = document.body;
  var msg = function (name) { return body.getAttribute("data-msg-" + name) || ""; };

  // ---- Messages ------------------------------------------------------------
  var toastTimer = null;
  function toast(text) {
    var el = document.getElementById("live");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, 8000);
  }
  function banner(text) {
    var el = document.getElementById("offline");
    if (!el) return;
    if (text) {
      el.textContent = text;
      el.hidden = false;
    } else {
      el.hidden = true;
    }
  }
  window.addEventListener("offline", function () { banner(msg("offline")); });
  window.addEventListener("online", function () { banner(""); toast(msg("online")); });

  // ---- Live inbox ----------------------------------------------------------
  function refreshInbox() {
    var boxes = document.querySelectorAll("[data-inbox]");
    var all = false;
    boxes.forEach(function (b) { if (b.getAttribute("data-inbox-all") === "1") all = true; });
    return fetch("/ui/inbox" + (all ? "?all=1" : ""), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error("inbox " + r.status); return r.text(); })
      .then(function (html) {
        boxes.forEach(function (b) { b.innerHTML = html; });
        var tmp = document.createElement("div");
        tmp.innerHTML = html;
        var n = tmp.querySelectorAll("tr[data-task]").length;
        var badge = document.getElementById("task-count");
        if (badge && !all) {
          badge.textContent = String(n);
          badge.hidden = n < 1;
        }
        var count = document.getElementById("count-tasks");
        if (count) count.textContent = String(n);
      })
      .catch(function () { /* the next event or a reload will catch up */ });
  }

  function startEvents() {
    var url = body.getAttribute("data-events");
    if (!url || !window.EventSource) return;
    var es = new EventSource(url);
    es.addEventListener("task", function (e) {
      var ev = {};
      try { ev = JSON.parse(e.data); } catch (err) { /* keep {} */ }
      refreshInbox();
      toast(msg("newtask").replace("%TITLE%", ev.title || "").replace("%NO%", ev.ticket_no || ""));
    });
    es.addEventListener("task-done", function () { refreshInbox(); });
    es.addEventListener("open", function () { banner(""); });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // ---- Forms that keep what was typed --------------------------------------
  var PREFIX = "omflow:form:";

  function snapshot(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.type === "hidden" || el.type === "submit" || el.type === "button") return;
      if (!(el.name in out)) out[el.name] = [];
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked) out[el.name].push(el.value);
      } else {
        out[el.name].push(el.value);
      }
    });
    return out;
  }

  function restore(form, data) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in data) || el.type === "file" || el.type === "hidden") return;
      var vals = data[el.name];
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = vals.indexOf(el.value) >= 0;
      } else if (!el.readOnly && !el.disabled) {
        el.value = vals.length ? vals[0] : "";
      }
    });
  }

  function save(form) {
    try { sessionStorage.setItem(PREFIX + form.getAttribute("data-persist"), JSON.stringify(snapshot(form))); } catch (e) { /* storage full or off */ }
  }
  function forget(form) {
    try { sessionStorage.removeItem(PREFIX + form.getAttribute("data-persist")); } catch (e) { /* ignore */ }
  }

  function offerRestore(form) {
    var raw = null;
    try { raw = sessionStorage.getItem(PREFIX + form.getAttribute("data-persist")); } catch (e) { return; }
    if (!raw) return;
    var data;
    try { data = JSON.parse(raw); } catch (e) { return; }
    var before = JSON.stringify(snapshot(form));
    restore(form, data);
    groupPickers(form);
    if (JSON.stringify(snapshot(form)) === before) return;
    var note = document.createElement("p");
    note.className = "alert ok restored";
    note.setAttribute("role", "status");
    note.textContent = msg("restored") + " ";
    var undo = document.createElement("button");
    undo.type = "button";
    undo.className = "small";
    undo.textContent = msg("discard");
    undo.addEventListener("click", function () { forget(form); window.location.reload(); });
    note.appendChild(undo);
    form.parentNode.insertBefore(note, form);
  }

  function setBusy(form, busy) {
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) { b.disabled = busy; });
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // Send the form with fetch: a lost connection leaves the page as it is;
  // a rejected submission replaces the page's main part with the server's
  // answer (which shows the values and the errors); on success the server
  // names the next page (204 and X-Omflow-Location) and the script goes
  // there.
  function submitWithFetch(form, e) {
    e.preventDefault();
    var fd;
    try { fd = new FormData(form, e.submitter || undefined); } catch (err) {
      fd = new FormData(form);
      if (e.submitter && e.submitter.name) fd.append(e.submitter.name, e.submitter.value);
    }
    save(form);
    setBusy(form, true);
    toast(msg("sending"));
    // form.action would be the button named "action" (the quick actions'
    // field), so read the attribute.
    var target = form.getAttribute("action") || window.location.pathname;
    fetch(target, { method: "POST", body: fd, credentials: "same-origin", headers: { "Accept": "text/html", "X-Omflow-Fetch": "1" } })
      .then(function (r) {
        var next = r.headers.get("X-Omflow-Location");
        if (r.status === 204 && next) {
          forget(form);
          window.location.assign(next);
          return null;
        }
        return answer(form, r);
      })
      .catch(function () {
        setBusy(form, false);
        banner(msg("sendfail"));
      });
  }

  // answer shows the server's reply to a rejected post. A page with the
  // form again (errors next to fields, a conflict) replaces this one's main
  // part; anything else (an expired session or form, a refusal) leaves the
  // form as it is and says what happened, since what was typed must not be
  // lost.
  function answer(form, r) {
    var type = r.headers.get("Content-Type") || "";
    return r.text().then(function (body) {
      if (type.indexOf("text/html") === 0) {
        var doc = new DOMParser().parseFromString(body, "text/html");
        var main = doc.getElementById("main");
        if (main && main.querySelector("form[data-persist]")) {
          replaceMain(doc, main);
          return;
        }
        var m = doc.getElementById("error-message");
        problem(form, m ? m.textContent : msg("sendfail"));
        return;
      }
      problem(form, msg("expired"));
    });
  }

  function problem(form, text) {
    setBusy(form, false);
    var live = document.getElementById("live");
    if (live) live.hidden = true;
    banner(text);
  }

  function replaceMain(doc, main) {
    document.getElementById("main").replaceWith(main);
    if (doc.title) document.title = doc.title;
    var live = document.getElementById("live");
    if (live) live.hidden = true;
    banner("");
    init(main);
    var first = main.querySelector("#conflict, #problems, .field.invalid input, .field.invalid select, .field.invalid textarea");
    if (first) {
      if (!first.matches("input, select, textarea")) first.setAttribute("tabindex", "-1");
      first.focus();
    }
  }

  // ---- h_group: offer only the members of the chosen group -----------------
  function groupPickers(root) {
    root.querySelectorAll("fieldset.group-pick").forEach(function (fs) {
      var g = fs.querySelector("select.pick-group"), u = fs.querySelector("select.pick-user");
      if (!g || !u) return;
      var members = {};
      try { members = JSON.parse(fs.getAttribute("data-members") || "{}"); } catch (e) { /* all */ }
      var apply = function () {
        var list = members[g.value];
        Array.prototype.forEach.call(u.options, function (o) {
          o.hidden = !!(o.value && list && list.indexOf(o.value) < 0);
        });
        if (u.selectedOptions[0] && u.selectedOptions[0].hidden) u.value = "";
      };
      if (!g.dataset.bound) {
        g.addEventListener("change", apply);
        g.dataset.bound = "1";
      }
      apply();
    });
  }

  function init(root) {
    root.querySelectorAll("form[data-persist]").forEach(function (form) {
      if (form.getAttribute("data-rerender") !== "1") offerRestore(form);
      form.addEventListener("input", function () { save(form); });
      form.addEventListener("change", function () { save(form); });
      form.addEventListener("submit", function (e) { submitWithFetch(form, e); });
    });
    groupPickers(root);
  }

  init(document);
  startEvents();
})();
