/* searchsvc — progressive enhancement of the server-rendered search and article pages.
 *
 * Without this script every control is a link or a form field and the server renders each
 * search. With it, the search page fetches /api/search as you type and re-renders the same
 * parts of the page from the JSON; the URL keeps the whole state (history.pushState), and
 * back/forward re-run the search of that URL (popstate).
 *
 * Safety: everything is inserted as text (textContent, attributes) except the API's
 * `title_html`, `snippets` and `did_you_mean.html`, which the service guarantees to be escaped
 * text with only <mark> added. No inline styles or scripts (the page's CSP forbids them).
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var FACETS = ["topics", "places", "people", "orgs", "source"];
  var FACET_LABELS = {topics: "Topics", places: "Places", people: "People",
                      orgs: "Organisations", source: "Source"};
  var EXTRA = ["interval", "collapse", "recency"];  // API options kept in the URL as given
  var SORTS = [["relevance", "Relevance"], ["newest", "Newest"], ["oldest", "Oldest"]];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"];
  var MAX_RESULT_WINDOW = 10000;
  var LEVELS = 20;
  var SEARCH_DELAY = 250;
  var SUGGEST_DELAY = 120;

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

  /** An element whose content is service-made HTML (escaped text plus <mark> only). */
  function marked(tag, attrs, safeHtml) {
    var el = h(tag, attrs);
    el.innerHTML = safeHtml;
    return el;
  }

  function fmtNumber(n) { return Number(n).toLocaleString("en-US"); }

  function fmtDate(iso) {
    if (!iso) return "";
    var p = iso.split("-");
    return parseInt(p[2], 10) + " " + MONTHS[parseInt(p[1], 10) - 1] + " " + p[0];
  }

  function isoOrEmpty(s) { return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : ""; }

  function plural(n, one, many) { return n === 1 ? one : many; }

  function metaLine(hit, withTags) {
    var parts = [];
    parts.push(hit.date ? h("time", {datetime: hit.date}, fmtDate(hit.date))
                        : h("span", null, "Undated"));
    if (hit.source) parts.push(h("span", {class: "source"}, hit.source));
    if (withTags) {
      (hit.topics || []).concat(hit.places || []).forEach(function (tag) {
        parts.push(h("span", {class: "tag"}, tag));
      });
    }
    return h("p", {class: "hit-meta"}, parts);
  }

  // -- the state in the URL -----------------------------------------------------------------

  function readState(search) {
    var p = new URLSearchParams(search);
    function one(name) {
      var all = p.getAll(name);
      return all.length ? all[all.length - 1].trim() : "";
    }
    var filters = {};
    FACETS.forEach(function (name) {
      var seen = [];
      p.getAll(name).forEach(function (v) {
        v = v.trim();
        if (v && seen.indexOf(v) === -1) seen.push(v);
      });
      if (seen.length) filters[name] = seen;
    });
    var page = parseInt(one("page"), 10);
    var extra = [];
    EXTRA.forEach(function (name) { if (one(name)) extra.push([name, one(name)]); });
    return {q: one("q"), from: one("from"), to: one("to"), filters: filters, sort: one("sort"),
            page: page >= 1 ? page : 1, per_page: one("per_page"), extra: extra};
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
    return p;
  }

  function pageUrl(state) {
    var s = params(state).toString();
    return s ? "/?" + s : "/";
  }

  /** A copy of `state` with `changes`; any change but the page goes back to page 1. */
  function withChanges(state, changes) {
    var next = {q: state.q, from: state.from, to: state.to, filters: {}, sort: state.sort,
                page: state.page, per_page: state.per_page, extra: state.extra || []};
    Object.keys(state.filters).forEach(function (k) {
      next.filters[k] = state.filters[k].slice();
    });
    Object.keys(changes).forEach(function (k) { next[k] = changes[k]; });
    if (!("page" in changes)) next.page = 1;
    return next;
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

  function hasFilters(state) {
    return Boolean(state.from || state.to || Object.keys(state.filters).length);
  }

  function articleLink(url, q) {
    return q ? url + "?" + new URLSearchParams({q: q}).toString() : url;
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
      summary: document.getElementById("summary"),
      sort: document.getElementById("sort"),
      chips: document.getElementById("chips"),
      message: document.getElementById("message"),
      dym: document.getElementById("dym"),
      results: document.getElementById("results"),
      pages: document.getElementById("pages"),
      histogram: document.getElementById("histogram"),
      facets: document.getElementById("facets"),
      from: document.getElementById("from"),
      to: document.getElementById("to"),
      main: document.getElementById("main"),
      filtersLink: document.querySelector(".filters-link")
    };
    var current = readState(location.search);
    var typingTimer = null;
    var dateTimer = null;
    var typing = false;   // consecutive as-you-type searches share one history entry
    var controller = null;
    var loadSeq = 0;

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
      var status = 0;
      return fetch("/api/search?" + params(state).toString(),
                   {signal: controller.signal, headers: {Accept: "application/json"}})
        .then(function (response) {
          status = response.status;
          return response.json().catch(function () { return null; }).then(function (data) {
            if (mine !== loadSeq) return;
            if (response.ok && data && Array.isArray(data.hits)) {
              render(data, state, options);
            } else {
              showError(data && data.detail ? data.detail
                : "The search service answered with an error (HTTP " + status + ").", state);
            }
          });
        }, function (err) {
          if (mine !== loadSeq || (err && err.name === "AbortError")) return;
          showError("", state, true);
        });
    }

    // -- rendering ------------------------------------------------------------------------

    /** A stable name for a control that survives re-rendering (to keep keyboard focus). */
    function keyOf(node) {
      if (!node || node.nodeType !== 1) return "";
      if (node.type === "checkbox") return "facet:" + node.name + ":" + node.value;
      if (node.hasAttribute("data-from")) return "bar:" + node.getAttribute("data-from");
      if (node.hasAttribute("data-sort")) return "sort:" + node.getAttribute("data-sort");
      if (node.classList.contains("clear-all")) return "clear-all";
      return "";
    }

    function rememberFocus() {
      var a = document.activeElement;
      if (!a || a === document.body) return null;
      var key = keyOf(a);
      if (key) return key;
      return el.main.contains(a) || el.facets.contains(a) || el.histogram.contains(a) ? "" : null;
    }

    function restoreFocus(key) {
      if (key === null) return;
      var candidates = document.querySelectorAll("#filters input[type=checkbox], #filters a.bar, " +
                                                 "#sort a, #chips a.clear-all");
      var target = null;
      if (key) {
        Array.prototype.forEach.call(candidates, function (c) {
          if (!target && keyOf(c) === key) target = c;
        });
      }
      if (target) target.focus();
      else if (!document.activeElement || document.activeElement === document.body) {
        el.main.focus({preventScroll: true});
      }
    }

    function render(data, state, options) {
      var focusKey = rememberFocus();
      var q = data.query && typeof data.query.q === "string" ? data.query.q : state.q;
      var total = data.total;
      renderSummary(summaryText(total, q, listed(data)), data.took_ms);
      renderSort(state, data.query ? data.query.sort : "");
      renderChips(state);
      el.message.replaceChildren();
      renderDidYouMean(state, data.did_you_mean);
      renderHits(data, state);
      renderPages(state, listed(data), data.query ? data.query.page : state.page,
                  data.query ? data.query.per_page : 10);
      renderHistogram(state, data.facets ? data.facets.date : null);
      renderFacets(state, data.facets || {});
      el.results.removeAttribute("aria-busy");
      if (options.scrollTop) {
        el.main.focus({preventScroll: true});
        el.main.scrollIntoView({block: "start"});
        focusKey = null;
      }
      restoreFocus(focusKey);
    }

    function summaryText(total, q, stories) {
      if (total === 0) return q ? "No results for “" + q + "”" : "No articles";
      var text = q
        ? fmtNumber(total) + " " + plural(total, "result", "results") + " for “" + q + "”"
        : fmtNumber(total) + " " + plural(total, "article", "articles");
      if (typeof stories === "number" && stories < total) {
        text += " in " + fmtNumber(stories) + " " + plural(stories, "story", "stories");
      }
      return text;
    }

    /** How many hits the pages list: stories when versions are collapsed, else articles. */
    function listed(data) {
      var collapse = !data.query || data.query.collapse !== false;
      return collapse && typeof data.total_stories === "number" ? data.total_stories : data.total;
    }

    function renderSummary(text, took) {
      el.summary.replaceChildren(
        h("span", {class: "count"}, text), " ",
        h("span", {class: "took"}, String(took) + " ms"));
    }

    function renderSort(state, sort) {
      var links = SORTS.map(function (s) {
        return h("a", {href: pageUrl(withChanges(state, {sort: s[0]})), "data-sort": s[0],
                       "aria-current": s[0] === sort ? "true" : null},
                 s[1]);
      });
      el.sort.replaceChildren(h("span", {class: "sort-label"}, "Sort:"));
      append(el.sort, links);
    }

    function chipList(state) {
      var out = [];
      if (state.from) out.push(["From " + state.from, withChanges(state, {from: ""})]);
      if (state.to) out.push(["To " + state.to, withChanges(state, {to: ""})]);
      FACETS.forEach(function (name) {
        (state.filters[name] || []).forEach(function (v) {
          out.push([FACET_LABELS[name] + ": " + v,
                    withChanges(state, {filters: toggled(state.filters, name, v)})]);
        });
      });
      return out;
    }

    function renderChips(state) {
      var chips = chipList(state);
      if (el.filtersLink) {
        el.filtersLink.textContent = "Filters" + (chips.length ? " (" + chips.length + ")" : "");
      }
      el.chips.hidden = chips.length === 0;
      var ul = h("ul", null, chips.map(function (c) {
        return h("li", null, h("a", {class: "chip", href: pageUrl(c[1]),
                                      "aria-label": "Remove filter " + c[0]},
                               [h("span", null, c[0]),
                                h("span", {class: "x", "aria-hidden": "true"}, "×")]));
      }));
      var clear = h("a", {class: "clear-all",
                          href: pageUrl(withChanges(state, {from: "", to: "", filters: {}}))},
                    "Clear all");
      el.chips.replaceChildren(h("span", {class: "visually-hidden"}, "Active filters:"), ul, clear);
    }

    function renderDidYouMean(state, dym) {
      el.dym.replaceChildren();
      el.dym.hidden = !dym;
      if (!dym) return;
      var link = marked("a", {href: pageUrl(withChanges(state, {q: dym.q}))}, dym.html);
      el.dym.append("Did you mean ", link, "?");
      if (dym.total) {
        el.dym.append(" ", h("span", {class: "dym-count"},
                             "(" + fmtNumber(dym.total) + " " +
                             plural(dym.total, "article", "articles") + ")"));
      }
    }

    function renderHits(data, state) {
      var q = state.q;
      if (!data.hits.length) {
        var tips = ["Check the spelling, or try fewer or different words"];
        if (hasFilters(state)) {
          tips.push(", or ", h("a", {href: pageUrl(withChanges(state, {from: "", to: "",
                                                                     filters: {}}))},
                                "remove the filters"));
        }
        tips.push(".");
        el.results.replaceChildren(h("div", {class: "empty"}, [
          h("h2", null, "No articles found"), h("p", null, tips)]));
        return;
      }
      var page = data.query ? data.query.page : 1;
      var perPage = data.query ? data.query.per_page : 10;
      var collapsed = !data.query || data.query.collapse !== false;
      var ol = h("ol", {class: "hits", start: (page - 1) * perPage + 1});
      data.hits.forEach(function (hit) {
        var link = articleLink(hit.url, q);
        var title = hit.title_html
          ? marked("a", {href: link}, hit.title_html) : h("a", {href: link}, "(untitled)");
        var li = h("li", {class: "hit"}, [h("h2", {class: "hit-title"}, title),
                                          metaLine(hit, true)]);
        (hit.snippets || []).forEach(function (s) {
          li.appendChild(marked("p", {class: "snippet"}, s));
        });
        if (collapsed && hit.story && hit.story.size > 1) {
          var more = hit.story.size - 1;
          li.appendChild(h("p", {class: "story"}, h("a", {href: link + "#related"},
            more + " more " + plural(more, "version", "versions") + " of this story")));
        }
        ol.appendChild(li);
      });
      el.results.replaceChildren(ol);
    }

    function renderPages(state, total, page, perPage) {
      var last = Math.min(Math.ceil(total / perPage), Math.floor(MAX_RESULT_WINDOW / perPage));
      el.pages.replaceChildren();
      el.pages.hidden = last <= 1;
      if (last <= 1) return;
      var numbers = [1, last];
      for (var n = Math.max(1, page - 2); n <= Math.min(last, page + 2); n++) numbers.push(n);
      numbers = numbers.filter(function (v, i) { return numbers.indexOf(v) === i; })
        .sort(function (a, b) { return a - b; });
      var ul = h("ul");
      function pageLink(n, label, extra) {
        return h("a", Object.assign({href: pageUrl(withChanges(state, {page: n})),
                                     "data-page": n}, extra || {}), label);
      }
      if (page > 1) ul.appendChild(h("li", null, pageLink(page - 1, "‹ Previous",
                                                          {class: "prev", rel: "prev"})));
      var previous = 0;
      numbers.forEach(function (n) {
        if (n - previous > 1) ul.appendChild(h("li", {class: "gap", "aria-hidden": "true"}, "…"));
        ul.appendChild(h("li", null, pageLink(n, String(n), {
          "aria-label": "Page " + n, "aria-current": n === page ? "page" : null})));
        previous = n;
      });
      if (page < last) ul.appendChild(h("li", null, pageLink(page + 1, "Next ›",
                                                            {class: "next", rel: "next"})));
      el.pages.appendChild(ul);
    }

    function bucketLabel(b, interval) {
      var p = b.from.split("-");
      if (interval === "year") return p[0];
      if (interval === "month") return MONTHS[parseInt(p[1], 10) - 1] + " " + p[0];
      if (interval === "week") return "Week of " + b.from;
      return b.from;
    }

    function axisLabel(b, interval) {
      if (interval === "year" || interval === "month") return bucketLabel(b, interval);
      return fmtDate(b.from);
    }

    function renderHistogram(state, dateFacet) {
      el.histogram.replaceChildren();
      var buckets = dateFacet && dateFacet.buckets ? dateFacet.buckets : [];
      if (!buckets.length) return;
      var interval = dateFacet.interval || "day";
      var peak = 1;
      buckets.forEach(function (b) { if (b.count > peak) peak = b.count; });
      var bars = h("div", {class: "bars", role: "group",
                           "aria-label": "Articles per " + interval + "; choose a bar to show " +
                                         "only that " + interval});
      buckets.forEach(function (b) {
        var level = b.count ? Math.max(1, Math.round(LEVELS * b.count / peak)) : 0;
        var label = bucketLabel(b, interval);
        // Choosing the bar that is the whole date filter again clears the filter.
        var chosen = state.from === b.from && state.to === b.to;
        var text = label + ": " + fmtNumber(b.count) + plural(b.count, " article", " articles") +
                   (chosen ? " (selected; choose again to clear)" : "");
        var fill = h("span", {class: "fill h" + level});
        if (b.count) {
          bars.appendChild(h("a", {
            class: "bar" + (b.selected ? " selected" : ""), title: text, "aria-label": text,
            href: pageUrl(withChanges(state, chosen ? {from: "", to: ""}
                                                    : {from: b.from, to: b.to})),
            "data-from": b.from, "data-to": b.to}, fill));
        } else {
          bars.appendChild(h("span", {class: "bar empty-bar", title: text}, fill));
        }
      });
      var axis = h("div", {class: "axis", "aria-hidden": "true"},
                   [h("span", null, axisLabel(buckets[0], interval)),
                    buckets.length > 1 ? h("span", null,
                                           axisLabel(buckets[buckets.length - 1], interval))
                                       : null]);
      el.histogram.replaceChildren(bars, axis);
    }

    function renderFacets(state, facets) {
      var groups = [];
      FACETS.forEach(function (name) {
        var values = facets[name] || [];
        if (!values.length) return;
        var ul = h("ul", null, values.map(function (v) {
          return h("li", null, h("label", null, [
            h("input", {type: "checkbox", name: name, value: v.value, form: "search-form",
                        checked: v.selected}),
            " ", h("span", {class: "value"}, v.value), " ",
            h("span", {class: "n"}, fmtNumber(v.count))]));
        }));
        groups.push(h("fieldset", {class: "facet", "data-facet": name}, [
          h("legend", null, h("h3", null, FACET_LABELS[name])), ul]));
      });
      el.facets.replaceChildren();
      append(el.facets, groups);
    }

    function showError(detail, state, unreachable) {
      el.results.removeAttribute("aria-busy");
      el.summary.replaceChildren();
      renderChips(state);
      el.dym.replaceChildren();
      el.dym.hidden = true;
      el.results.replaceChildren();
      el.pages.replaceChildren();
      el.pages.hidden = true;
      el.histogram.replaceChildren();
      el.facets.replaceChildren();
      var msg = unreachable
        ? h("p", {class: "message error"}, [h("strong", null, "Can’t reach the search service."),
                                            " Check your connection and try again. "])
        : h("p", {class: "message error"}, [h("strong", null, "Can’t search:"), " ", detail]);
      if (unreachable) {
        var retry = h("button", {type: "button", class: "retry"}, "Try again");
        retry.addEventListener("click", function () { load(current, {}); });
        msg.appendChild(retry);
      }
      el.message.replaceChildren(msg);
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
      if (!a || a.target || (a.getAttribute("href") || "").charAt(0) === "#") return;
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
