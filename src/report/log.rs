//! The log subscriber: lower layers (the GitHub client retrying, the write
//! loop seeing a moved branch) emit `tracing` events instead of printing,
//! and this prints WARN and ERROR events as one `warning: …` line on
//! stderr.

/// Installs the process's log subscriber. Safe to call twice.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(WarningLines);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Prints WARN and ERROR events as `warning: {message}` lines.
struct WarningLines;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for WarningLines {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        super::warn(&message.0);
    }
}

/// Collects an event's `message` field.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
