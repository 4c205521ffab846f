// composecheck loads a Compose file with compose-go, the library `docker compose` itself uses:
// schema validation, interpolation, YAML anchors and merges, normalisation. It needs no Docker
// engine, so the compose file can be checked on machines without one. Prints the resolved
// project as JSON (like `docker compose config --format json`) or the error and exits 1.
//
//	go run ./docker/composecheck -f docker-compose.ha.yml -p chaos-check [--env-file FILE] [--profile P]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := flag.String("f", "docker-compose.ha.yml", "compose file")
	project := flag.String("p", "chaos-check", "project name")
	envFile := flag.String("env-file", "", "optional env file for interpolation")
	profile := flag.String("profile", "", "optional profile to enable (like --profile)")
	flag.Parse()

	opts := []cli.ProjectOptionsFn{cli.WithName(*project), cli.WithOsEnv}
	if *envFile != "" {
		opts = append(opts, cli.WithEnvFiles(*envFile), cli.WithDotEnv)
	}
	if *profile != "" {
		opts = append(opts, cli.WithProfiles([]string{*profile}))
	}
	options, err := cli.NewProjectOptions([]string{*file}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
