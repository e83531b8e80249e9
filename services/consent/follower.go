package consent

import (
	"encoding/json"
	"fmt"

	"healthexchange/services/platform/follow"
)

// loadSnapshot restores the view from its last snapshot, if there is one
// of this service's format (follow.Follower writes them).
func loadSnapshot(path string, v *View) error {
	raw, err := follow.ReadSnapshot(path)
	if err != nil {
		return fmt.Errorf("consent view snapshot: %w", err)
	}
	if raw == nil {
		return nil
	}
	var s viewState
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("consent view snapshot %s: %w", path, err)
	}
	if s.Format != viewFormat {
		return nil // an older service's snapshot: rebuilt from the ledger
	}
	v.restore(s)
	return nil
}
