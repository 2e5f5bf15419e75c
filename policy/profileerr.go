package policy

import "errors"

// ErrUnknownProfile means a request named a profile the configuration does not define. The
// front ends report it each in their own way (socketmap: PERM; HTTP API: 404; readsocket:
// result=PERM).
var ErrUnknownProfile = errors.New("not a configured profile")
