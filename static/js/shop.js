// Small progressive enhancement: likes, ratings and add-to-cart update in place with fetch(), and
// each says how it went in the form's role="status" region, which screen readers announce.
// Every form still works without JavaScript (it posts and the server redirects back).
(function () {
  "use strict";
  const tokenMeta = document.querySelector('meta[name="csrf-token"]');
  let csrfToken = tokenMeta ? tokenMeta.content : "";
  document.documentElement.classList.add("js");

  // Sort menus apply as soon as they change (the Apply button is for pages without JavaScript).
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (select.matches("select[data-autosubmit]") && select.form) select.form.submit();
  });

  async function postForm(form) {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken },
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (data.csrf_token) {
      // A fresh token: the session started with this post (a visitor's first add), or it
      // expired and the server made a new one. The next post sends it.
      csrfToken = data.csrf_token;
      if (tokenMeta) tokenMeta.content = csrfToken;
      document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
        input.value = csrfToken;
      });
    }
    if (response.status === 401 && (data.login_url || form.dataset.loginUrl)) {
      // Signed out (in another tab, or the session expired): sign in, then come back to this
      // product; what the form held is kept by the server and filled in again.
      window.location.assign(data.login_url || form.dataset.loginUrl);
      return new Promise(function () {});
    }
    if (!response.ok) {
      const message = (data.error && data.error.message) || "Something went wrong.";
      throw new Error(message);
    }
    return data;
  }

  function showStatus(form, text, ok) {
    const status = form.querySelector("[data-status]") || form.parentElement.querySelector("[data-status]");
    if (status) {
      status.textContent = text;
      status.classList.toggle("text-danger", !ok);
      status.classList.toggle("text-success", ok);
    }
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!form.matches("form[data-async]")) return;
    event.preventDefault();
    try {
      const data = await postForm(form);
      document.dispatchEvent(new CustomEvent("shop:feedback", { detail: { form: form, data: data } }));
      if (form.dataset.async === "like") {
        const button = form.querySelector("button");
        button.classList.toggle("liked", data.liked);
        button.setAttribute("aria-pressed", data.liked ? "true" : "false");
        button.querySelector("[data-label]").textContent = data.liked ? "Liked" : "Like";
        const count = document.querySelector("[data-like-count]");
        if (count) count.textContent = data.like_count;
      } else if (form.dataset.async === "cart") {
        showStatus(form, data.message, true);
        const status = form.querySelector("[data-status]");
        if (status && data.cart_url) {
          const link = document.createElement("a");
          link.href = data.cart_url;
          link.className = "ms-1";
          link.textContent = "View your cart (" + data.cart_count + (data.cart_count === 1 ? " item)" : " items)");
          status.append(" ", link);
        }
        if (typeof data.cart_count === "number") {
          document.querySelectorAll("[data-cart-count]").forEach(function (badge) {
            badge.textContent = data.cart_count;
            badge.hidden = data.cart_count === 0;
          });
        }
      } else if (form.dataset.async === "rating") {
        const avg = document.querySelector("[data-rating-avg]");
        const cnt = document.querySelector("[data-rating-count]");
        if (avg && data.rating_avg_text) avg.textContent = data.rating_avg_text;
        if (cnt) cnt.textContent = data.rating_count;
        const stars = document.querySelector("[data-rating-stars]");
        if (stars && data.rating_stars) stars.textContent = data.rating_stars;
        showStatus(form, data.message || "Thanks for your rating!", true);
        const submit = form.querySelector('button[type="submit"]');
        if (submit) submit.textContent = "Update rating";
      }
      if (data.message && form.dataset.async === "like") showStatus(form, data.message, true);
    } catch (err) {
      showStatus(form, err.message, false);
    }
  });
})();
