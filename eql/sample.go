package eql

import "errors"

func (r *runner) runSample() (*Response, error) {
	return nil, errors.New("sample: not implemented yet")
}
