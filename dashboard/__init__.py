"""See the work: a picture of every edit (``edit.html``/``edit.png``), the web dashboard of the
watch daemon and the GPU worker, and the daemon's Prometheus metrics."""
