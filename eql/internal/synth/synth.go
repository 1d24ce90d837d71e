// Package synth writes synthetic Elastic-Defend-shaped network events as
// NDJSON, slightly out of timestamp order (±5 s), for measuring validate
// query at scale: 100 hosts × 2,000 processes, seven program names, ten
// destination ports, connection_attempted and disconnect_received alike;
// about 410 bytes per event. The stream is the same for the same n and
// seed.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Write writes n events made from seed to w.
func Write(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0))
	procs := []string{"curl", "nc.openbsd", "fetchmail", "bash", "python3", "thunderbird", "msmtp"}
	ports := []int{25, 110, 143, 443, 465, 587, 993, 995, 80, 8080}
	actions := []string{"connection_attempted", "disconnect_received"}
	base := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := range n {
		t := base.Add(time.Duration(i)*10*time.Millisecond + time.Duration((r.Float64()*10-5)*float64(time.Second)))
		h, p := r.IntN(100), r.IntN(2000)
		fmt.Fprintf(bw, `{"@timestamp":%q,"event":{"category":["network"],"type":["start"],"action":%q,"kind":"event"},`+
			`"host":{"name":"host-%d","os":{"type":"linux"}},"process":{"entity_id":"ent-%d-%d","pid":%d,"name":%q,"executable":"/usr/bin/x"},`+
			`"destination":{"ip":"10.0.%d.%d","port":%d},"data_stream":{"type":"logs","dataset":"endpoint.events.network","namespace":"default"}}`+"\n",
			t.Format("2006-01-02T15:04:05.000Z"), actions[r.IntN(2)], h, h, p, p, procs[r.IntN(len(procs))], h, p%250, ports[r.IntN(len(ports))])
	}
	return bw.Flush()
}
