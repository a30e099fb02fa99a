// Package workloadattest is the home of the workload attestors: each
// sub-package turns the process behind a Workload API call into selectors
// (for example unix turns a Linux process into unix:uid:1000,
// unix:path:/usr/bin/app, ...). They implement workloadapi.Attestor.
package workloadattest
