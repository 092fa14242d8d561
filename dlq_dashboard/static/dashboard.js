// Keyboard shortcuts, dialogs and list rows for the DLQ dashboard. No inline script
// anywhere (the Content-Security-Policy forbids it); everything hangs off data attributes.
(function () {
  "use strict";

  function typing(element) {
    if (!element) return false;
    if (element.isContentEditable) return true;
    return ["INPUT", "TEXTAREA", "SELECT"].indexOf(element.tagName) !== -1;
  }

  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (!dialog || dialog.open) return false;
    dialog.showModal();
    var first = dialog.querySelector("textarea, select, input:not([type=hidden])");
    if (first) first.focus();
    return true;
  }

  function submitForm(id) {
    var form = document.getElementById(id);
    if (!form) return false;
    form.requestSubmit();
    return true;
  }

  function go(url) {
    if (url) window.location.assign(url);
  }

  // ---- queue: a selected row that j/k move and Enter opens ----
  var selected = -1;
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  }
  function select(index) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row, i) {
      row.classList.toggle("selected", i === selected);
      row.setAttribute("aria-selected", i === selected ? "true" : "false");
    });
    all[selected].scrollIntoView({ block: "nearest" });
  }

  function onKey(event) {
    var page = document.body.getAttribute("data-page");
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      var form = document.getElementById("resolve-form");
      var fields = form && form.querySelector("fieldset");
      if (form && fields && !fields.disabled) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape") {
      if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]") && event.key !== "?") return;
    var handled = true;
    switch (event.key) {
      case "j":
        if (page === "queue") select(selected + 1);
        else go(document.body.getAttribute("data-next"));
        break;
      case "k":
        if (page === "queue") select(selected - 1);
        else go(document.body.getAttribute("data-previous"));
        break;
      case "Enter":
        if (page === "queue" && selected >= 0) go(rows()[selected].getAttribute("data-href"));
        else handled = false;
        break;
      case "c":
        handled = submitForm("claim-form");
        break;
      case "r":
        handled = openDialog("rerun-dialog");
        break;
      case "d":
        handled = openDialog("discard-dialog");
        break;
      case "s":
        handled = submitForm("skip-form");
        break;
      case "?":
        handled = openDialog("help-dialog");
        break;
      default:
        handled = false;
    }
    if (handled) event.preventDefault();
  }

  function onClick(event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var opener = target.closest("[data-open-dialog]");
    if (opener) {
      openDialog(opener.getAttribute("data-open-dialog"));
      return;
    }
    var closer = target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) dialog.close();
      return;
    }
    if (target.closest("[data-remove-row]")) {
      target.closest(".list-row").remove();
      return;
    }
    var adder = target.closest("[data-add-row]");
    if (adder) {
      var list = adder.closest("fieldset.list");
      var template = list.querySelector(":scope > template");
      var container = list.querySelector(":scope > .rows");
      var used = Array.prototype.map.call(container.children, function (row) {
        var input = row.querySelector("[name]");
        var match = input && input.name.slice(list.getAttribute("data-list").length + 1).match(/^(\d+)/);
        return match ? parseInt(match[1], 10) : -1;
      });
      var next = used.length ? Math.max.apply(null, used) + 1 : 0;
      var html = template.innerHTML.split("__INDEX__").join(String(next));
      container.insertAdjacentHTML("beforeend", html);
      var fresh = container.lastElementChild.querySelector("input, select, textarea");
      if (fresh) fresh.focus();
      return;
    }
    var row = target.closest("tr.queue-row");
    if (row && !target.closest("a")) go(row.getAttribute("data-href"));
  }

  // ---- job page: follow the job's event stream, re-fetch the live part at each version ----
  function followJob() {
    var url = document.body.getAttribute("data-job-events");
    if (!url || typeof EventSource === "undefined" || typeof htmx === "undefined") return;
    var source = new EventSource(url);
    var refresh = function () { htmx.trigger(document.body, "job-changed"); };
    source.addEventListener("job", refresh);
    source.addEventListener("end", function () {
      source.close();
      refresh();
    });
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("click", onClick);
  document.addEventListener("DOMContentLoaded", function () {
    followJob();
    var focused = document.querySelector("#resolve-form [autofocus]");
    if (focused) {
      focused.focus();
      // The failing value is selected: typing the correction replaces it.
      if (typeof focused.select === "function" && focused.tagName !== "SELECT") focused.select();
    }
  });
})();
