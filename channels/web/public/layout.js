// Tells the companion whether this page is phone-sized before the chat connects: there the
// side panel is a sheet over the chat, so the trading desk is shown inline instead.
document.cookie = "companion_layout=" +
  (window.matchMedia("(max-width: 767px)").matches ? "phone" : "desktop") +
  "; path=/; SameSite=Strict";
