package agent

import "time"

// SetBundlePoll sets a's bundle poll periods (before Run), for tests that
// cannot wait minutes for them: poll against servers that do not announce
// bundle changes and after an announced change for follow, announced
// otherwise.
func SetBundlePoll(a *Agent, poll, announced, follow time.Duration) {
	a.bundlePoll = bundlePollPeriods{poll: poll, announced: announced, follow: follow}
}
