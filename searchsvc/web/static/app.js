/* searchsvc — progressive enhancement of the server-rendered search and article pages.
 *
 * Without this script every control is a link or a form field and the server renders each
 * search. With it, the search page asks the server for the same page's regions
 * (GET /fragments/search?…, rendered by the templates that render the page) as you type or
 * click, and swaps each into the element with the same id: no markup is built here. The URL
 * keeps the whole state (history.pushState), and back/forward re-run the search of that URL
 * (popstate). The "What stands out" panel is loaded the same way (GET /fragments/terms?…)
 * after the results.
 *
 * Safety: the script inserts only text (textContent, attributes) and nodes parsed from the
 * service's own server-rendered HTML (escaped by the templates). No inline styles or scripts
 * (the page's CSP forbids them).
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var FACETS = ["topics", "places", "people", "orgs", "source"];
  var EXTRA = ["interval", "collapse", "recency"];  // API options kept in the URL as given
  var SEARCH_DELAY = 250;
  var SUGGEST_DELAY = 120;
  var TERMS_DELAY = 300;

  // -- small helpers ------------------------------------------------------------------------

  /** An element with attributes (null/false skipped) and children (strings become text). */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "class") el.className = value;
        else el.setAttribute(name, value === true ? "" : String(value));
      });
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    if (children === null || children === undefined || children === false) return;
    if (Array.isArray(children)) {
      children.forEach(function (c) { append(el, c); });
    } else if (typeof children === "string" || typeof children === "number") {
      el.appendChild(document.createTextNode(String(children)));
    } else {
      el.appendChild(children);
    }
  }

  function isoOrEmpty(s) { return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : ""; }

  /** Parse the service's own HTML (never executed: scripts in parsed documents do not run). */
  function parseHtml(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  /** Make `target` what `source` (a parsed region) is: its attributes and its children. The
   * element itself stays, so live regions, listeners and references keep working. */
  function morph(target, source) {
    Array.prototype.slice.call(target.attributes).forEach(function (a) {
      if (!source.hasAttribute(a.name)) target.removeAttribute(a.name);
    });
    Array.prototype.forEach.call(source.attributes, function (a) {
      if (target.getAttribute(a.name) !== a.value) target.setAttribute(a.name, a.value);
    });
    fill(target, source);
  }

  /** Replace `target`'s children with (imported copies of) `source`'s children. */
  function fill(target, source) {
    var nodes = Array.prototype.map.call(source.childNodes, function (n) {
      return document.importNode(n, true);
    });
    target.replaceChildren.apply(target, nodes);
  }

  // -- the state in the URL -----------------------------------------------------------------

  function readState(search) {
    var p = new URLSearchParams(search);
    function one(name) {
      var all = p.getAll(name);
      return all.length ? all[all.length - 1].trim() : "";
    }
    function unique(name) {
      var seen = [];
      p.getAll(name).forEach(function (v) {
        v = v.trim();
        if (v && seen.indexOf(v) === -1) seen.push(v);
      });
      return seen;
    }
    var filters = {};
    FACETS.forEach(function (name) {
      var seen = unique(name);
      if (seen.length) filters[name] = seen;
    });
    var page = parseInt(one("page"), 10);
    var extra = [];
    EXTRA.forEach(function (name) { if (one(name)) extra.push([name, one(name)]); });
    return {q: one("q"), from: one("from"), to: one("to"), filters: filters, sort: one("sort"),
            page: page >= 1 ? page : 1, per_page: one("per_page"), extra: extra,
            view: one("view") === "timeline" ? "timeline" : "", compare: unique("compare"),
            measure: one("measure") === "share" ? "share" : ""};
  }

  /** Parameters in the same order as the server's PageState.params(). */
  function params(state) {
    var p = new URLSearchParams();
    if (state.q) p.append("q", state.q);
    if (state.from) p.append("from", state.from);
    if (state.to) p.append("to", state.to);
    FACETS.forEach(function (name) {
      (state.filters[name] || []).forEach(function (v) { p.append(name, v); });
    });
    if (state.sort) p.append("sort", state.sort);
    if (state.page > 1) p.append("page", String(state.page));
    if (state.per_page) p.append("per_page", state.per_page);
    (state.extra || []).forEach(function (pair) { p.append(pair[0], pair[1]); });
    if (state.view) p.append("view", state.view);
    (state.compare || []).forEach(function (c) { p.append("compare", c); });
    if (state.measure) p.append("measure", state.measure);
    return p;
  }

  function pageUrl(state) {
    var s = params(state).toString();
    return s ? "/?" + s : "/";
  }

  /** A copy of `state` with `changes`; any change but the page goes back to page 1. */
  function withChanges(state, changes) {
    var next = {q: state.q, from: state.from, to: state.to, filters: {}, sort: state.sort,
                page: state.page, per_page: state.per_page, extra: (state.extra || []).slice(),
                view: state.view || "", compare: (state.compare || []).slice(),
                measure: state.measure || ""};
    Object.keys(state.filters).forEach(function (k) {
      next.filters[k] = state.filters[k].slice();
    });
    Object.keys(changes).forEach(function (k) { next[k] = changes[k]; });
    if (!("page" in changes)) next.page = 1;
    return next;
  }

  /** `extra` with one option set (or removed when `value` is empty), in EXTRA order. */
  function withOption(extra, name, value) {
    var given = {};
    (extra || []).forEach(function (pair) { given[pair[0]] = pair[1]; });
    given[name] = value;
    return EXTRA.filter(function (n) { return given[n]; })
      .map(function (n) { return [n, given[n]]; });
  }

  function toggled(filters, facet, value) {
    var out = {};
    Object.keys(filters).forEach(function (k) { out[k] = filters[k].slice(); });
    var values = out[facet] || [];
    var i = values.indexOf(value);
    if (i === -1) values.push(value); else values.splice(i, 1);
    if (values.length) out[facet] = values; else delete out[facet];
    return out;
  }

  // -- the search box: "/" shortcut and autocomplete (both pages) ---------------------------

  function initSearchBox(onPick) {
    var input = document.getElementById("q");
    var list = document.getElementById("suggestions");
    if (!input || !list) return null;
    var items = [];
    var active = -1;
    var timer = null;
    var seq = 0;

    document.addEventListener("keydown", function (e) {
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      var t = e.target;
      if (t && t.nodeType === 1) {
        if (t.isContentEditable) return;
        if (t.matches("textarea, select, input:not([type=checkbox]):not([type=radio])" +
                      ":not([type=button]):not([type=submit]):not([type=reset])")) return;
      }
      e.preventDefault();
      input.focus();
      input.select();
    });

    function setActive(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, j) {
        li.setAttribute("aria-selected", j === i ? "true" : "false");
      });
      if (i >= 0 && list.children[i]) {
        input.setAttribute("aria-activedescendant", list.children[i].id);
        list.children[i].scrollIntoView({block: "nearest"});
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      setActive(-1);
    }

    function show(suggestions) {
      var typed = input.value.trim().toLowerCase();
      items = suggestions.filter(function (s) { return s.trim().toLowerCase() !== typed; });
      list.replaceChildren();
      if (!items.length) { close(); return; }
      items.forEach(function (s, i) {
        var li = h("li", {id: "suggestion-" + i, role: "option", "aria-selected": "false"}, s);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });
        li.addEventListener("click", function () { pick(i); });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      setActive(-1);
    }

    function pick(i) {
      var text = items[i];
      if (text === undefined) return;
      input.value = text;
      cancel();
      close();
      onPick(text);
    }

    function cancel() {
      clearTimeout(timer);
      seq += 1;
    }

    function schedule() {
      clearTimeout(timer);
      var text = input.value;
      if (!text.trim() || text.length > 200) { seq += 1; close(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch("/api/suggest?" + new URLSearchParams({q: text, limit: "8"}).toString(),
              {headers: {Accept: "application/json"}})
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data || mine !== seq || input.value !== text) return;
            if (document.activeElement !== input) return;
            show(data.suggestions || []);
          })
          .catch(function () { /* suggestions are a convenience; the search reports errors */ });
      }, SUGGEST_DELAY);
    }

    input.addEventListener("input", schedule);
    input.addEventListener("blur", function () { cancel(); close(); });
    input.addEventListener("keydown", function (e) {
      var open = !list.hidden && items.length > 0;
      if (e.key === "ArrowDown" && open) {
        e.preventDefault();
        setActive(active + 1 >= items.length ? 0 : active + 1);
      } else if (e.key === "ArrowUp" && open) {
        e.preventDefault();
        setActive(active <= 0 ? items.length - 1 : active - 1);
      } else if (e.key === "Enter" && open && active >= 0) {
        e.preventDefault();
        pick(active);
      } else if (e.key === "Escape" && open) {
        e.preventDefault();
        cancel();
        close();
      } else if (e.key === "Enter") {
        cancel();
        close();
      }
    });
    return {input: input, close: close, cancel: cancel};
  }


  // -- the search page ------------------------------------------------------------------------

  function initSearchPage() {
    var form = document.getElementById("search-form");
    var el = {
      message: document.getElementById("message"),
      results: document.getElementById("results"),
      pages: document.getElementById("pages"),
      facets: document.getElementById("facets"),
      options: document.getElementById("options"),
      timeline: document.getElementById("timeline"),
      terms: document.getElementById("terms"),
      from: document.getElementById("from"),
      to: document.getElementById("to"),
      main: document.getElementById("main")
    };
    var current = readState(location.search);
    var typingTimer = null;
    var dateTimer = null;
    var typing = false;   // consecutive as-you-type searches share one history entry
    var controller = null;
    var loadSeq = 0;
    var terms = {timer: null, controller: null, seq: 0, src: null};

    var box = initSearchBox(function (text) {
      clearTimeout(typingTimer);
      go(withChanges(current, {q: text.trim()}), typing ? "replace" : "push");
      typing = false;
    });
    var input = box.input;

    function go(next, mode, options) {
      var url = pageUrl(next);
      var here = location.pathname + location.search;
      if (mode === "push" && url !== here) history.pushState(null, "", url);
      else if (mode === "push" || mode === "replace") history.replaceState(null, "", url);
      current = next;
      if (!(options && options.typing)) syncControls(next);
      return load(next, options || {});
    }

    function syncControls(state) {
      if (input.value.trim() !== state.q) input.value = state.q;
      // A date input holds only ISO dates; other spellings show in the chips.
      if (el.from && document.activeElement !== el.from) el.from.value = isoOrEmpty(state.from);
      if (el.to && document.activeElement !== el.to) el.to.value = isoOrEmpty(state.to);
    }

    function load(state, options) {
      if (controller) controller.abort();
      controller = new AbortController();
      var mine = ++loadSeq;
      el.results.setAttribute("aria-busy", "true");
      document.title = (state.q ? state.q + " · " : "") + "searchsvc";
      // A newer search (or back, forward, reload) aborts this one, while waiting for the
      // response or while reading its body: either way nothing to show, and no error.
      function lost(err) {
        if (mine !== loadSeq || (err && err.name === "AbortError")) return;
        showProblem(unreachable());
      }
      return fetch("/fragments/search?" + params(state).toString(),
                   {signal: controller.signal, headers: {Accept: "text/html"}})
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          return response.text().then(function (html) {
            if (mine !== loadSeq) return;
            var parts = type.indexOf("text/html") === 0
              ? parseHtml(html).querySelectorAll("[data-region]") : [];
            if (parts.length) swapIn(parts, options);
            else showProblem(failed(response.status));
          }, lost);
        }, lost);
    }

    // -- swapping the server's regions in ---------------------------------------------------

    /** A stable name for a control that survives re-rendering (to keep keyboard focus). */
    function keyOf(node) {
      if (!node || node.nodeType !== 1) return "";
      if (node.type === "checkbox") return "facet:" + node.name + ":" + node.value;
      if (node.hasAttribute("data-from")) {
        return (node.classList.contains("zbar") ? "zbar:" : "bar:") +
               node.getAttribute("data-from");
      }
      if (node.hasAttribute("data-sort")) return "sort:" + node.getAttribute("data-sort");
      if (node.classList.contains("clear-all")) return "clear-all";
      if (node.id === "compare-q" || node.hasAttribute("data-option")) return "id:" + node.id;
      return "";
    }

    function rememberFocus() {
      var a = document.activeElement;
      if (!a || a === document.body) return null;
      var key = keyOf(a);
      if (key) return key;
      var filters = document.getElementById("filters");
      return el.main.contains(a) || (filters && filters.contains(a)) ? "" : null;
    }

    function restoreFocus(key) {
      if (key === null) return;
      var candidates = document.querySelectorAll(
        "#filters input[type=checkbox], #filters a.bar, #filters a.zbar, #sort a, " +
        "#chips a.clear-all, #options select, #compare-q");
      var target = null;
      if (key) {
        Array.prototype.forEach.call(candidates, function (c) {
          if (!target && keyOf(c) === key && !c.disabled) target = c;
        });
      }
      if (target) target.focus();
      else if (!document.activeElement || document.activeElement === document.body) {
        el.main.focus({preventScroll: true});
      }
    }

    function swapIn(parts, options) {
      var focusKey = rememberFocus();
      Array.prototype.forEach.call(parts, function (part) {
        var target = part.id ? document.getElementById(part.id) : null;
        if (!target) return;
        if (target === el.terms && part.getAttribute("data-src") === terms.src) {
          // The same words for the same search: keep them, only show or hide the panel.
          target.hidden = part.hasAttribute("hidden");
          return;
        }
        morph(target, part);
      });
      el.results.removeAttribute("aria-busy");
      if (options.scrollTop) {
        el.main.focus({preventScroll: true});
        el.main.scrollIntoView({block: "start"});
        focusKey = null;
      }
      restoreFocus(focusKey);
      scheduleTerms();
    }

    /** Load the "What stands out" panel for the search shown (after the results). */
    function scheduleTerms() {
      var src = el.terms ? el.terms.getAttribute("data-src") : null;
      clearTimeout(terms.timer);
      if (!src || el.terms.hidden || src === terms.src) return;
      terms.timer = setTimeout(function () {
        if (terms.controller) terms.controller.abort();
        terms.controller = new AbortController();
        var mine = ++terms.seq;
        fetch(src, {signal: terms.controller.signal, headers: {Accept: "text/html"}})
          .then(function (r) { return r.text(); })
          .then(function (html) {
            if (mine !== terms.seq || el.terms.getAttribute("data-src") !== src) return;
            var body = el.terms.querySelector(".terms-body");
            if (body) fill(body, parseHtml(html).body);
            terms.src = src;
          })
          .catch(function () { /* a convenience: the search itself reports problems */ });
      }, TERMS_DELAY);
    }

    /** The page's own message for a search that could not be made (a server template). */
    function fromTemplate(id) {
      var tpl = document.getElementById(id);
      return tpl ? document.importNode(tpl.content, true) : document.createDocumentFragment();
    }

    function unreachable() {
      var msg = fromTemplate("tpl-unreachable");
      var retry = msg.querySelector("button.retry");
      if (retry) retry.addEventListener("click", function () { load(current, {}); });
      return msg;
    }

    function failed(status) {
      var msg = fromTemplate("tpl-failed");
      var slot = msg.querySelector(".status");
      if (slot) slot.textContent = String(status);
      return msg;
    }

    function showProblem(message) {
      el.results.removeAttribute("aria-busy");
      ["summary", "results", "histogram", "facets"].forEach(function (id) {
        var node = document.getElementById(id);
        if (node) node.replaceChildren();
      });
      ["dym", "pages", "histogram-zoom", "interpreted", "timeline", "tools", "terms"]
        .forEach(function (id) {
          var node = document.getElementById(id);
          if (node) { node.replaceChildren(); node.hidden = true; }
        });
      terms.src = null;
      el.message.replaceChildren(message);
    }

    // -- interactions -----------------------------------------------------------------------

    input.addEventListener("input", function () {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () {
        var next = withChanges(current, {q: input.value.trim()});
        if (pageUrl(next) === pageUrl(current)) return;
        go(next, typing ? "replace" : "push", {typing: true});
        typing = true;
      }, SEARCH_DELAY);
    });
    input.addEventListener("blur", function () { typing = false; });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      clearTimeout(typingTimer);
      box.close();
      var next = withChanges(current, {q: input.value.trim()});
      go(next, typing || pageUrl(next) === pageUrl(current) ? "replace" : "push");
      typing = false;
    });

    document.addEventListener("click", function (e) {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey ||
          e.altKey) return;
      var a = e.target.closest ? e.target.closest("a[href]") : null;
      if (!a || a.target || a.hasAttribute("download") ||
          (a.getAttribute("href") || "").charAt(0) === "#") return;
      var url = new URL(a.href, location.href);
      if (url.origin !== location.origin || url.pathname !== "/") return;
      e.preventDefault();
      clearTimeout(typingTimer);
      typing = false;
      go(readState(url.search), "push", {scrollTop: el.pages.contains(a)});
    });

    /** Text typed but not yet searched (the delay has not passed) joins the next change. */
    function flushTyping() {
      clearTimeout(typingTimer);
      typing = false;
      if (input.value.trim() !== current.q) {
        current = withChanges(current, {q: input.value.trim(), page: current.page});
      }
    }

    el.facets.addEventListener("change", function (e) {
      var cb = e.target;
      if (!cb || cb.type !== "checkbox") return;
      flushTyping();
      go(withChanges(current, {filters: toggled(current.filters, cb.name, cb.value)}), "push");
    });

    if (el.options) {
      el.options.addEventListener("change", function (e) {
        var select = e.target;
        var name = select && select.getAttribute("data-option");
        if (!name) return;
        flushTyping();
        var change = name === "per_page" ? {per_page: select.value}
                                         : {extra: withOption(current.extra, name, select.value)};
        go(withChanges(current, change), "push");
      });
    }

    if (el.timeline) {
      el.timeline.addEventListener("submit", function (e) {
        var compare = e.target.querySelector ? e.target.querySelector("#compare-q") : null;
        if (!compare) return;
        e.preventDefault();
        var value = compare.value.trim();
        if (!value) return;
        flushTyping();
        go(withChanges(current, {view: "timeline", compare: current.compare.concat([value])}),
           "push");
      });
    }

    function dateChanged() {
      clearTimeout(dateTimer);
      dateTimer = setTimeout(function () {
        flushTyping();
        var next = withChanges(current, {from: el.from.value, to: el.to.value});
        if (pageUrl(next) !== pageUrl(current)) go(next, "push");
      }, 300);
    }
    if (el.from) el.from.addEventListener("change", dateChanged);
    if (el.to) el.to.addEventListener("change", dateChanged);

    window.addEventListener("popstate", function () {
      clearTimeout(typingTimer);
      typing = false;
      box.cancel();
      box.close();
      var next = readState(location.search);
      if (pageUrl(next) === pageUrl(current) && !el.message.hasChildNodes()) return;  // #hash
      current = next;
      syncControls(current);
      load(current, {});
    });

    scheduleTerms();
  }

  // -- the article page -----------------------------------------------------------------------

  /** Other pages: a picked suggestion opens the search page for it. */
  function openSearch(text) {
    location.assign(pageUrl(readState("?" + new URLSearchParams({q: text.trim()}).toString())));
  }

  function initArticlePage() {
    initSearchBox(openSearch);
    // Back to the exact results (filters, page) the person came from, when they came from them.
    var back = document.getElementById("back-link");
    if (back && document.referrer) {
      try {
        var ref = new URL(document.referrer);
        if (ref.origin === location.origin && ref.pathname === "/") {
          back.href = ref.pathname + ref.search;
        }
      } catch (err) { /* keep the server's link */ }
    }
  }

  function init() {
    var page = document.body.getAttribute("data-page");
    if (page === "search") initSearchPage();
    else if (page === "article") initArticlePage();
    else initSearchBox(openSearch);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
