package policy

import "encoding/json"

// decisionFields is Decision without its methods, so that the JSON methods below can use
// the default encoding of the exported fields.
type decisionFields Decision

// MarshalJSON encodes d with its reasons rendered, in the field order of the struct
// followed by "reasons" (the control socket and `mailtls query -json`).
func (d Decision) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		decisionFields
		Reasons []string `json:"reasons"`
	}{decisionFields(d), d.Reasons()})
}

// UnmarshalJSON decodes what MarshalJSON wrote; the reasons become fixed text.
func (d *Decision) UnmarshalJSON(b []byte) error {
	var v struct {
		decisionFields
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = Decision(v.decisionFields)
	d.text = v.Reasons
	return nil
}
