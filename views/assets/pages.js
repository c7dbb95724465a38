// Portcullis pages: small enhancements; every page works without them.
(function () {
  'use strict';

  // The reader's time zone, so the server writes dates in it (falls back to UTC without it).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.split('; ').indexOf('tz=' + encodeURIComponent(zone)) === -1) {
      document.cookie = 'tz=' + encodeURIComponent(zone) + '; path=/; max-age=31536000; samesite=lax' + (location.protocol === 'https:' ? '; secure' : '');
    }
  } catch (e) { /* no Intl: UTC it is */ }

  // A logo that fails to load leaves the app's initial beneath it visible, never a broken-image glyph.
  Array.prototype.forEach.call(document.querySelectorAll('img[data-logo]'), function (img) {
    var hide = function () { img.hidden = true; };
    if (img.complete && img.naturalWidth === 0) hide();
    else img.addEventListener('error', hide);
  });

  // A locked sign-in form opens again when the lock has passed.
  var notice = document.querySelector('[data-unlock-at]');
  var fieldset = document.querySelector('fieldset[data-locked]');
  if (notice && fieldset) {
    var wait = Math.max(0, Number(notice.getAttribute('data-unlock-at')) - Date.now());
    setTimeout(function () {
      fieldset.disabled = false;
      notice.textContent = 'You can try again now.';
      var password = document.getElementById('password');
      if (password) password.focus();
    }, Math.min(wait, 2147483647));
  }
})();
