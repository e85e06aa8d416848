package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
)

// The processor swaps the resources Rust rewrote into the batch in place
// (the others are not touched), as contrib's transform processor does.
var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the cowork_ecs processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
		processor.WithTraces(createTracesProcessor, metadata.TracesStability),
		processor.WithMetrics(createMetricsProcessor, metadata.MetricsStability),
	)
}

func createTracesProcessor(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Traces,
) (processor.Traces, error) {
	p, err := newTracesProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(
		ctx, set, cfg, next,
		p.process,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
	)
}

func createMetricsProcessor(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Metrics,
) (processor.Metrics, error) {
	p, err := newMetricsProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(
		ctx, set, cfg, next,
		p.process,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
	)
}

func createLogsProcessor(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Logs,
) (processor.Logs, error) {
	p, err := newLogsProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	if p.cfg.Signing.KeyFile == "" {
		return processorhelper.NewLogs(
			ctx, set, cfg, next,
			p.process,
			processorhelper.WithCapabilities(processorCapabilities),
			processorhelper.WithStart(p.start),
			processorhelper.WithShutdown(p.shutdown),
		)
	}
	// Sealed: the seal of each request is settled after the next consumer
	// took it; heartbeats between requests, a closing seal at shutdown
	// (sealing.go).
	p.sealing = newSealing(p.core, next)
	return processorhelper.NewLogs(
		ctx, set, cfg, p.sealing,
		p.process,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(func(ctx context.Context, host component.Host) error {
			if err := p.start(ctx, host); err != nil {
				return err
			}
			p.sealing.start()
			return nil
		}),
		processorhelper.WithShutdown(func(ctx context.Context) error {
			err := p.sealing.shutdown(ctx)
			return errors.Join(err, p.shutdown(ctx))
		}),
	)
}
