// Package elastic is purpleharness's Elasticsearch backend: it indexes the
// run's ECS documents into a real cluster and asks Elasticsearch's own
// _eql/search API whether each rule matches, returning the very
// *eql.Response shape the embedded engine returns, so the two engines sit
// behind one interface and can be held to agree.
//
// A cluster is either an existing one (Config.URL, with an API key or
// user/password, a CA and an insecure switch) or a single-node container of
// the official image started with testcontainers-go's elasticsearch module.
// The image is never pulled: when it is not present locally and no URL is
// given, Open fails with ErrNoCluster, naming both remedies.
//
// Each run writes to its own data streams, named like the data source it
// imitates (logs-endpoint.events.network-<namespace>) with
// data_stream.namespace set to the run id, under an index template of the
// run's own. Searches are confined to the run's streams that match the
// rule's index patterns, so parallel runs on one cluster never see each
// other's events (or real data), and Close deletes exactly the streams and
// the template this run created.
package elastic

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// Environment variables read by tests and by callers that want them
// (OptionsFromEnv).
const (
	EnvURL      = "PURPLEHARNESS_ES_URL"
	EnvAPIKey   = "PURPLEHARNESS_ES_API_KEY"
	EnvUser     = "PURPLEHARNESS_ES_USER"
	EnvPassword = "PURPLEHARNESS_ES_PASSWORD"
	EnvCA       = "PURPLEHARNESS_ES_CA"
	EnvInsecure = "PURPLEHARNESS_ES_INSECURE"
	EnvImage    = "PURPLEHARNESS_ES_IMAGE"
)

// DefaultImage is the Elasticsearch image a container is started from when
// no other is chosen: a current 8.x, the line go-elasticsearch/v8 targets.
const DefaultImage = "docker.elastic.co/elasticsearch/elasticsearch:8.19.7"

// ErrNoCluster means there is nothing to talk to: no URL was given and
// the image is not present locally (or Docker is unreachable). Callers map
// it to the environment exit code.
var ErrNoCluster = errors.New("no Elasticsearch cluster")

// Options say which cluster to use. With URL set the cluster is an existing
// one; otherwise a container is started from Image.
type Options struct {
	URL      string // e.g. https://es.example:9200
	APIKey   string // base64 "id:key", as Kibana shows it; wins over User/Password
	User     string
	Password string
	CAFile   string // PEM file of the CA that signed the cluster's certificate
	Insecure bool   // skip TLS verification (self-signed test clusters)

	Image    string // container image; DefaultImage when empty
	Security bool   // container: keep security on (TLS + password) as the image ships it
}

// OptionsFromEnv fills Options from the PURPLEHARNESS_ES_* variables.
func OptionsFromEnv() Options {
	return Options{
		URL:      os.Getenv(EnvURL),
		APIKey:   os.Getenv(EnvAPIKey),
		User:     os.Getenv(EnvUser),
		Password: os.Getenv(EnvPassword),
		CAFile:   os.Getenv(EnvCA),
		Insecure: os.Getenv(EnvInsecure) == "true" || os.Getenv(EnvInsecure) == "1",
		Image:    os.Getenv(EnvImage),
		Security: true,
	}
}

func (o Options) image() string {
	if o.Image != "" {
		return o.Image
	}
	return DefaultImage
}

// Client is a connection to one cluster, possibly one we started.
type Client struct {
	es      *elasticsearch.Client
	url     string
	version string
	source  string                      // human description for the one-line "using ..." message
	stop    func(context.Context) error // terminates our container, if any
}

// Open connects to the cluster Options describe: the URL if given, else a
// container started from the image when it is present locally, else it
// fails with an error wrapping ErrNoCluster.
func Open(ctx context.Context, o Options) (*Client, error) {
	if o.URL != "" {
		c, err := Connect(ctx, o)
		if err != nil {
			return nil, err
		}
		c.source = fmt.Sprintf("Elasticsearch %s at %s", c.version, c.url)
		return c, nil
	}
	return startContainer(ctx, o)
}

// Connect connects to the existing cluster at o.URL and checks that it
// answers as Elasticsearch.
func Connect(ctx context.Context, o Options) (*Client, error) {
	cfg := elasticsearch.Config{
		Addresses: []string{o.URL},
		APIKey:    o.APIKey,
		Username:  o.User,
		Password:  o.Password,
	}
	if o.CAFile != "" {
		ca, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch CA: %w", err)
		}
		cfg.CACert = ca
	}
	if o.Insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by --es-insecure
		cfg.Transport = tr
	}
	return connect(ctx, cfg)
}

func connect(ctx context.Context, cfg elasticsearch.Config) (*Client, error) {
	es, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	c := &Client{es: es, url: cfg.Addresses[0]}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := c.do(ctx, esapi.InfoRequest{}, &info); err != nil {
		return nil, fmt.Errorf("connect to Elasticsearch at %s: %w", c.url, err)
	}
	c.version = info.Version.Number
	return c, nil
}

// Version is the cluster's version number ("8.19.7").
func (c *Client) Version() string { return c.version }

// URL is the cluster's address.
func (c *Client) URL() string { return c.url }

// String says in one line which cluster this is, for the run's
// "backend: ..." message.
func (c *Client) String() string { return c.source }

// Close terminates the container if Open started one. An external
// cluster is left as it is (Backend.Close deletes a run's data).
func (c *Client) Close(ctx context.Context) error {
	if c == nil || c.stop == nil {
		return nil
	}
	stop := c.stop
	c.stop = nil
	return stop(ctx)
}

// request is any esapi request.
type request interface {
	Do(ctx context.Context, t esapi.Transport) (*esapi.Response, error)
}

// do sends req and decodes a 2xx body into out (when non-nil); any other
// status becomes an *Error decoded from Elasticsearch's error body.
func (c *Client) do(ctx context.Context, req request, out any) error {
	res, err := req.Do(ctx, c.es)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return parseError(res.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// maxBody bounds what we read of one response (a sequence query over a
// large run can return many events; beyond this something is wrong).
const maxBody = 512 << 20
