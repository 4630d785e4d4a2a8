/// Placeholder: the chat-template engine is being written.
public enum ChatTemplatePlaceholder {}
