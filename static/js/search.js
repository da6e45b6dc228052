// Suggestions under the search box, as the WAI-ARIA combobox pattern (list autocomplete):
// the input keeps focus, arrow keys move through the options (aria-activedescendant), Enter follows
// the active option (or submits the form as usual when none is active), Escape closes the list.
// Without JavaScript the box is a plain search form; nothing here is needed for it to work.
(function () {
  "use strict";
  const DELAY_MS = 120;

  function enhance(input) {
    const list = document.getElementById(input.dataset.suggestList);
    const status = document.getElementById(input.dataset.suggestStatus);
    if (!list || !status) return;
    let options = [];
    let active = -1;
    let timer = null;
    let controller = null;
    let latest = 0;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");

    // A request still on its way must not reopen a list the shopper has just closed.
    function cancelPending() {
      clearTimeout(timer);
      latest++;
      if (controller) controller.abort();
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(index) {
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
        option.classList.toggle("active", i === index);
      });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function option(id, url, label, detail, kind) {
      const li = document.createElement("li");
      li.id = id;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.className = "suggestion suggestion-" + kind;
      li.dataset.url = url;
      const main = document.createElement("span");
      main.className = "suggestion-label";
      main.textContent = label;
      li.appendChild(main);
      if (detail) {
        const extra = document.createElement("span");
        extra.className = "suggestion-detail";
        extra.textContent = detail;
        li.appendChild(extra);
      }
      return li;
    }

    function render(data) {
      list.replaceChildren();
      const items = data.suggestions || [];
      items.forEach(function (item, i) {
        const detail = item.type === "category" ? "Category · " + item.count + " matches" : item.detail;
        list.appendChild(option(list.id + "-" + i, item.url, item.label, detail, item.type));
      });
      if (items.length && data.search_url) {
        const words = data.corrected || data.query;
        list.appendChild(option(list.id + "-all", data.search_url, "All results for “" + words + "”", "", "all"));
      }
      options = Array.from(list.children);
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (!options.length) {
        close();
        status.textContent = input.value.trim() ? "No suggestions." : "";
        return;
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      const lead = data.corrected ? "Suggestions for " + data.corrected + ": " : "";
      status.textContent = lead + items.length + (items.length === 1 ? " suggestion" : " suggestions") +
        ", use the up and down arrows to choose.";
    }

    async function fetchSuggestions() {
      const q = input.value.trim();
      if (!q) { close(); list.replaceChildren(); options = []; status.textContent = ""; return; }
      if (controller) controller.abort();
      controller = new AbortController();
      const ticket = ++latest;
      try {
        const response = await fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(q), {
          headers: { "Accept": "application/json" },
          credentials: "same-origin",
          signal: controller.signal,
        });
        if (!response.ok) return;
        const data = await response.json();
        if (ticket === latest) render(data);
      } catch (err) {
        // An aborted or failed request leaves the plain search form, which still works.
      }
    }

    function follow(index) {
      window.location.assign(options[index].dataset.url);
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      const open = !list.hidden && options.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) { if (options.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); setActive(0); } else { fetchSuggestions(); } return; }
        setActive(active + 1 >= options.length ? 0 : active + 1);
      } else if (event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        setActive(active <= 0 ? options.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        cancelPending();
        if (open && active >= 0) { event.preventDefault(); follow(active); }
      } else if (event.key === "Escape") {
        cancelPending();
        if (open) { event.preventDefault(); close(); }
      } else if (event.key === "Home" || event.key === "End") {
        if (open && active >= 0) setActive(-1);  // the caret moves in the text again
      }
    });

    // mousedown, not click: the input must not lose focus (and close the list) first.
    list.addEventListener("mousedown", function (event) {
      const li = event.target.closest("[role=option]");
      if (!li) return;
      event.preventDefault();
      follow(options.indexOf(li));
    });
    list.addEventListener("mousemove", function (event) {
      const li = event.target.closest("[role=option]");
      if (li && options.indexOf(li) !== active) setActive(options.indexOf(li));
    });
    input.addEventListener("blur", function () { cancelPending(); setTimeout(close, 0); });
    input.addEventListener("focus", function () { if (options.length && input.value.trim()) { list.hidden = false; input.setAttribute("aria-expanded", "true"); } });
  }

  document.querySelectorAll("input[data-suggest-url]").forEach(enhance);
})();
