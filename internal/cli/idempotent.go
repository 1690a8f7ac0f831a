package cli

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// --may-exist and --if-exists make create and delete idempotent for
// scripts, as in ovn-nbctl: running the same command twice ends in the
// same state, and says so, without an error.

func mayExistFlag(c *cobra.Command, may *bool) {
	c.Flags().BoolVar(may, "may-exist", false,
		"succeed if an identical object exists (one that differs in a flag given is still an error)")
}

func ifExistsFlag(c *cobra.Command, ifExists *bool) {
	c.Flags().BoolVar(ifExists, "if-exists", false, "succeed if there is nothing to delete")
}

// mayExist takes the answer of a create (data, err). With may set, a 409
// for an object that exists at getPath is success when diff finds nothing
// different, and an error naming the differences otherwise. A 409 for
// anything else (a VNI or an iface-id another object holds) stays the
// server's error. existed says whether data is the existing object.
func mayExist[T any](a *app, may bool, err error, what, getPath string, data []byte, diff func(T) []string) (out []byte, existed bool, _ error) {
	if !may || !isStatus(err, http.StatusConflict) {
		return data, false, err
	}
	have, gerr := a.call(http.MethodGet, getPath, nil)
	switch {
	case isStatus(gerr, http.StatusNotFound):
		return nil, false, err
	case gerr != nil:
		return nil, false, gerr
	}
	var v T
	if derr := decode(have, &v); derr != nil {
		return nil, false, derr
	}
	if d := diff(v); len(d) > 0 {
		return nil, false, fmt.Errorf("%s exists with a different %s; --may-exist accepts only an identical one", what, strings.Join(d, ", "))
	}
	return have, true, nil
}

// deleted reports a delete's outcome: done (format), or with ifExists
// an absent object (a 404) is success too.
func (a *app) deleted(ifExists bool, err error, what, format string, args ...any) error {
	switch {
	case err == nil:
		return a.say(format, args...)
	case ifExists && isStatus(err, http.StatusNotFound):
		return a.say("%s not found: nothing to delete", what)
	}
	return err
}
