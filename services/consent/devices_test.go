package consent

import (
	"testing"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
)

// A patient lists their own devices, and only a patient lists any: the
// ledger is asked for the caller's id, never an id from the request.
func TestListDevices(t *testing.T) {
	l := patientLedger(newKey(t, "pat-1"))
	var asked []string
	l.devices = func(patientID string) ([]ledgerapi.Device, error) {
		asked = append(asked, patientID)
		return []ledgerapi.Device{{DeviceID: "watch-1", PatientID: patientID, Status: ledgerapi.StatusActive}}, nil
	}
	api, _ := patientService(t, l, liveView(t))
	resp, err := api.ListDevices(asPatient(t, "pat-1"), &consentv1.ListDevicesRequest{})
	if err != nil || len(resp.GetDevices()) != 1 || resp.GetDevices()[0].GetPatientId() != "pat-1" {
		t.Fatalf("%v %v", resp, err)
	}
	if _, err := api.ListDevices(ctxFor(t, staff("dr-1", auth.RoleClinician, ledgerapi.StMarysMSP)), &consentv1.ListDevicesRequest{}); err == nil {
		t.Fatal("a clinician listed a patient's devices")
	}
	if _, err := api.ListDevices(ctxFor(t, nobody), &consentv1.ListDevicesRequest{}); err == nil {
		t.Fatal("listed without a token")
	}
	if len(asked) != 1 || asked[0] != "pat-1" {
		t.Fatalf("the ledger was asked for %v", asked)
	}
}
