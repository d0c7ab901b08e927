// Copy buttons: <button data-copy="element-id">. Without JavaScript the text stays selectable.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(source.value !== undefined ? source.value : source.textContent).then(function () {
    button.textContent = "Copied";
  });
});
