package serverd

import (
	"log/slog"

	"k8s.io/klog/v2"
)

// RouteKlog sends what the Kubernetes client libraries log (client-go and
// apimachinery log through klog: reflector and watch errors, the API
// server's deprecation warnings) to log, as records with subsystem
// "kubernetes", instead of klog's own unformatted lines on stderr.
//
// klog's logger is process-global and not safe to change while anything
// logs, so the daemon's main calls this once, before Run; Run does not,
// because tests run several servers in one process. klog's warnings
// arrive at INFO (klog hands its logger only info and error lines), and
// its verbose lines V(n) at slog level -n, so client-go's chatter shows
// only with the DEBUG log level.
func RouteKlog(log *slog.Logger) {
	klog.SetSlogLogger(log.With("subsystem", "kubernetes"))
}
