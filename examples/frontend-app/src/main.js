import "./style.css";

// A tiny single-page app: client-side routes answered by index.html (the distribution's SPA fallback).
const routes = {
  "/": "Home",
  "/about": "About this example",
};

function render() {
  const title = routes[window.location.pathname] ?? "Not found";
  document.querySelector("#app").innerHTML = `<h1>${title}</h1><nav><a href="/">home</a> <a href="/about">about</a></nav>`;
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a");
  if (link && link.origin === window.location.origin) {
    event.preventDefault();
    window.history.pushState({}, "", link.pathname);
    render();
  }
});
window.addEventListener("popstate", render);
render();
