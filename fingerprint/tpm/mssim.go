package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// The Microsoft TPM simulator TCP protocol (TpmTcpProtocol.h in the TCG
// reference code), as `swtpm socket --server type=tcp` also speaks it.
//
// go-tpm ships two clients for it (tpm2/transport/tcp, tpmutil/mssim).
// Neither sets dial timeouts or deadlines, and both send the reference
// simulator's power signals on the control port, which swtpm does not
// understand: its control channel has a protocol of its own. Hence this
// small client.
const (
	mssimSendCommand = 8 // command port: locality, size, command

	// Reference simulator platform (control) port signals.
	platformPowerOn = 1
	platformNVOn    = 11

	// swtpm control channel commands. swtpm reads 1 on this port as
	// CMD_GET_CAPABILITY, answering with 8 bytes where the reference
	// simulator answers POWER_ON with 4: that tells the two apart.
	swtpmCmdInit = 2
)

var (
	errTimeout     = os.ErrDeadlineExceeded
	errConnRefused = syscall.ECONNREFUSED
)

// errPoweredOff is what the reference simulator's empty answer means.
var errPoweredOff = errors.New("TPM simulator sent an empty response (not powered on)")

type mssimLink struct {
	c net.Conn
	// broken is set once an exchange fails half way: the stream is then
	// out of step and no later answer could be trusted.
	broken error
}

func (m *mssimLink) exchange(deadline time.Time, cmd []byte) ([]byte, error) {
	if m.broken != nil {
		return nil, m.broken
	}
	rsp, err := m.roundTrip(deadline, cmd)
	if err != nil && !errors.Is(err, errPoweredOff) {
		m.broken = fmt.Errorf("TPM simulator connection unusable after an earlier error: %w", err)
		m.c.Close()
	}
	return rsp, err
}

func (m *mssimLink) roundTrip(deadline time.Time, cmd []byte) ([]byte, error) {
	if err := m.c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	msg := make([]byte, 9, 9+len(cmd))
	binary.BigEndian.PutUint32(msg[0:], mssimSendCommand)
	msg[4] = 0 // locality
	binary.BigEndian.PutUint32(msg[5:], uint32(len(cmd)))
	if _, err := m.c.Write(append(msg, cmd...)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(m.c, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxResponse {
		return nil, fmt.Errorf("TPM simulator response of %d bytes is too long", n)
	}
	// The response is followed by a 4-byte status of the TCP exchange.
	rsp := make([]byte, n+4)
	if _, err := io.ReadFull(m.c, rsp); err != nil {
		return nil, err
	}
	if st := binary.BigEndian.Uint32(rsp[n:]); st != 0 {
		return nil, fmt.Errorf("TPM simulator reported status %#x", st)
	}
	if n == 0 {
		return nil, errPoweredOff
	}
	return rsp[:n], nil
}

func (m *mssimLink) close() error { return m.c.Close() }

// openMSSim connects to a TPM simulator and makes it ready: when it is
// powered off or not initialised (swtpm without --flags not-need-init) it
// is powered on through the control port, and TPM2_Startup is sent when
// the TPM needs it. A TPM that already runs is left as it is.
func openMSSim(ctx context.Context, budget time.Duration, hostPort string) (transport.TPMCloser, string, error) {
	cmdAddr, platAddr, err := parseMSSim(hostPort)
	if err != nil {
		return nil, "", err
	}
	source := "mssim:" + cmdAddr
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cmdAddr)
	if err != nil {
		return nil, "", mssimError(source, budget, err)
	}
	c := newConn(source, &mssimLink{c: nc})
	if err := startup(ctx, c, platAddr); err != nil {
		c.Close()
		return nil, "", mssimError(source, budget, err)
	}
	return c, source, nil
}

func mssimError(source string, budget time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTimeout) {
		return &TimeoutError{Source: source, After: budget}
	}
	e := &OpenError{Source: source, Err: err}
	if errors.Is(err, errConnRefused) {
		e.Hint = "is the simulator running? start one with: swtpm socket --tpm2 --server type=tcp,port=PORT --ctrl type=tcp,port=PORT+1 --tpmstate dir=DIR --flags not-need-init,startup-clear"
	}
	return e
}

// probe asks the TPM for its manufacturer: any TPM answers this once it is
// started.
func probe(t transport.TPM) error {
	_, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTManufacturer),
		PropertyCount: 1,
	}.Execute(t)
	return err
}

func startup(ctx context.Context, c *conn, platAddr string) error {
	t := boundTPM{c, ctx}
	err := probe(t)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tpm2.TPMRCInitialize):
		// Powered on, waiting for TPM2_Startup.
	case errors.Is(err, tpm2.TPMRCFailure), errors.Is(err, errPoweredOff):
		// swtpm answers TPM_RC_FAILURE until it is initialised; the
		// reference simulator answers nothing until it is powered on.
		if err := powerOn(ctx, platAddr); err != nil {
			return fmt.Errorf("powering on through the control port %s: %w", platAddr, err)
		}
	default:
		return err
	}
	_, err = tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t)
	if err != nil && !errors.Is(err, tpm2.TPMRCInitialize) { // already started
		return fmt.Errorf("TPM2_Startup: %w", err)
	}
	return probe(t)
}

// powerOn powers on the simulator through its control port, speaking
// either the reference simulator's platform protocol or swtpm's control
// protocol, whichever the port answers in.
func powerOn(ctx context.Context, addr string) error {
	var d net.Dialer
	pc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer pc.Close()
	deadline, _ := ctx.Deadline()
	if err := pc.SetDeadline(deadline); err != nil {
		return err
	}
	if err := ctrlCommand(pc, platformPowerOn); err != nil {
		return err
	}
	// swtpm's answer to CMD_GET_CAPABILITY has 4 more bytes (its
	// capability flags), sent with the result code in one write.
	var more [4]byte
	_ = pc.SetReadDeadline(earliest(time.Now().Add(200*time.Millisecond), deadline))
	_, err = io.ReadFull(pc, more[:])
	_ = pc.SetDeadline(deadline)
	switch {
	case err == nil:
		return ctrlCommand(pc, swtpmCmdInit, 0 /* flags */)
	case errors.Is(err, errTimeout):
		return ctrlCommand(pc, platformNVOn)
	}
	return err
}

// ctrlCommand writes words to a control port and reads a 4-byte result.
func ctrlCommand(c net.Conn, words ...uint32) error {
	buf := make([]byte, 0, 4*len(words))
	for _, w := range words {
		buf = binary.BigEndian.AppendUint32(buf, w)
	}
	if _, err := c.Write(buf); err != nil {
		return err
	}
	var rc [4]byte
	if _, err := io.ReadFull(c, rc[:]); err != nil {
		return err
	}
	if v := binary.BigEndian.Uint32(rc[:]); v != 0 {
		return fmt.Errorf("control command %d failed with code %#x", words[0], v)
	}
	return nil
}

func earliest(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}
