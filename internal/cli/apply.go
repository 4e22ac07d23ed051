package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/schedule"
	"github.com/baton-run/baton/internal/specschema"
	"github.com/baton-run/baton/internal/trigger"
)

// applyPath applies the definition at path, or every definition file below
// it: task types first (workflows refer to them), then workflows, then
// schedules and triggers (kind: trigger; both refer to workflows), each group
// in path order. Every file is first checked against its kind's JSON Schema
// (package specschema); the error then names file:line:column. When enabled is not nil, task types whose executor it
// refuses are skipped (with a line on out) instead of failing the whole.
func applyPath(ctx context.Context, eng *engine.Engine, triggers *trigger.Service, path string, out io.Writer, enabled func(executor string) bool) error {
	files, err := definitionFiles(path)
	if err != nil {
		return err
	}
	validator, err := specschema.NewValidator()
	if err != nil {
		return err
	}
	var types []*engine.TaskTypeSpec
	var workflows []*engine.WorkflowSpec
	var schedules []*engine.ScheduleSpec
	var names []string
	var triggerSpecs []trigger.Params
	var triggerFiles []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		// The kind's JSON Schema first, for errors with line and column
		// (file.yaml:12:5: steps[1].timeout: ...); the engine's own
		// validation still checks what a schema cannot (cycles, references).
		if _, err := validator.Validate(file, data); err != nil {
			return err
		}
		if trigger.IsSpec(data) {
			p, err := trigger.ParseSpec(data, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			triggerSpecs, triggerFiles = append(triggerSpecs, p), append(triggerFiles, file)
			continue
		}
		spec, err := engine.ParseSpec(data)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		switch s := spec.(type) {
		case *engine.TaskTypeSpec:
			types = append(types, s)
		case *engine.WorkflowSpec:
			workflows = append(workflows, s)
			names = append(names, file)
		case *engine.ScheduleSpec:
			schedules = append(schedules, s)
		}
	}
	for _, t := range types {
		if enabled != nil && !enabled(t.Executor) {
			fmt.Fprintf(out, "task type %s skipped: executor %s is not enabled\n", t.Name, t.Executor)
			continue
		}
		if _, err := eng.ApplyTaskType(ctx, t); err != nil {
			return fmt.Errorf("task type %q: %w", t.Name, err)
		}
		fmt.Fprintf(out, "task type %s applied\n", t.Name)
	}
	for i, w := range workflows {
		wf, created, err := eng.ApplyWorkflow(ctx, w)
		if err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		state := "unchanged"
		if created {
			state = "created"
		}
		fmt.Fprintf(out, "workflow %s version %d %s (%d steps)\n", wf.Name, wf.Version, state, wf.StepCount)
	}
	if len(schedules) > 0 {
		svc := schedule.New(eng.Pool(), eng, schedule.Options{})
		for _, spec := range schedules {
			sched, created, err := svc.Apply(ctx, spec)
			if err != nil {
				return fmt.Errorf("schedule %q: %w", spec.Name, err)
			}
			state := "updated"
			if created {
				state = "created"
			}
			fmt.Fprintf(out, "schedule %s %s (%s %s)\n", sched.Name, state, sched.Cron, sched.TimeZone)
		}
	}
	for i, p := range triggerSpecs {
		if triggers == nil {
			return fmt.Errorf("%s: triggers are not available here", triggerFiles[i])
		}
		t, created, err := triggers.Put(ctx, p, true)
		if err != nil {
			return fmt.Errorf("%s: %w", triggerFiles[i], err)
		}
		state := "updated"
		if created {
			state = "created"
		}
		fmt.Fprintf(out, "trigger %s %s (%s -> %s)\n", t.Name, state, t.EventType, t.Workflow)
	}
	return nil
}

func definitionFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list definitions in %s: %w", path, err)
	}
	slices.Sort(files)
	return files, nil
}
