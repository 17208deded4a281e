// Firebase web sign-in: email and password give a fresh ID token, which the form posts to
// /console/session to become an HttpOnly session cookie. Nothing is kept in the browser.
(function () {
  var form = document.getElementById("firebase-sign-in");
  if (!form || !window.firebase) { return; }
  var app = window.firebase.initializeApp({
    apiKey: form.getAttribute("data-api-key"),
    authDomain: form.getAttribute("data-auth-domain"),
    projectId: form.getAttribute("data-project-id"),
  });
  var auth = app.auth();
  auth.setPersistence(window.firebase.auth.Auth.Persistence.NONE);
  var status = document.getElementById("fb-status");
  form.addEventListener("submit", function (event) {
    if (form.elements.id_token.value) { return; }
    event.preventDefault();
    status.textContent = "Signing in…";
    auth.signInWithEmailAndPassword(document.getElementById("fb-email").value, document.getElementById("fb-password").value)
      .then(function (result) { return result.user.getIdToken(); })
      .then(function (token) {
        form.elements.id_token.value = token;
        document.getElementById("fb-password").value = "";
        return auth.signOut().then(function () { form.submit(); });
      })
      .catch(function () { status.textContent = "That email and password did not work."; });
  });
})();
