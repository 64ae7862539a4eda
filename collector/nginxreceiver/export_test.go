package nginxreceiver

import (
	"encoding/json"
	"os"
)

// savedOffsetsForTest reads the saved positions (the state file).
func (t *tailer) savedOffsetsForTest() []fileState {
	b, err := os.ReadFile(t.statePath)
	if err != nil {
		return nil
	}
	var st savedState
	if json.Unmarshal(b, &st) != nil {
		return nil
	}
	return st.Files
}
