// A model as users see it: the transformer, its tokenizer and its chat template, loaded from one path. Training and
// serving both render and tokenize chats through here, so a model is trained on exactly the text it is served with.
import Foundation
import TailorTemplates

public final class LanguageModel: Sendable {
    /// The file's stem or the directory's name, e.g. "SmolLM2-135M-Instruct".
    public let name: String
    public let path: String
    public let format: ModelFormat
    public let transformer: Transformer
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate
    /// True when the model ships no template and ChatML (Gemma's turns for Gemma) is used instead.
    public let usesFallbackTemplate: Bool
    /// How tools and tool calls are written for this model (its template's own syntax, or Tailor's default).
    public let toolFormat: ToolFormat
    /// A fully fine-tuned model: the base model it was trained from (whose tokenizer and template it uses).
    public let trainedFrom: String?

    static let chatMLTemplate = """
        {% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
        """

    /// Gemma's turn format, for Gemma files that ship no template (a system message opens the first user turn).
    /// Written over several lines here; the lines are joined without separators.
    static let gemmaTemplate = #"""
        {{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first_user_prefix = messages[0]['content'] + '\n\n' %}
        {% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}
        {% for message in loop_messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}
        {% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '')
        + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}
        {% endif %}
        """#.split(separator: "\n").joined()

    /// A fully fine-tuned model, `transformer` (loaded from the Hugging Face directory at `path`), served with the
    /// tokenizer, chat template and tool format of `base`, which it was trained from. `name` must be unique among
    /// the models served (requests are batched by name).
    public init(name: String, path: String, transformer: Transformer, trainedFrom base: LanguageModel) {
        self.name = name; self.path = path; format = .huggingFace
        self.transformer = transformer
        tokenizer = base.tokenizer; chatTemplate = base.chatTemplate; usesFallbackTemplate = base.usesFallbackTemplate
        toolFormat = base.toolFormat
        trainedFrom = base.name
    }

    public init(path: String) throws {
        trainedFrom = nil
        self.path = path
        format = try ModelLoader.format(of: path)
        let source: String?
        switch format {
        case .gguf:
            let file = try GGUFFile(path: path)
            let config = try file.llamaConfig()
            transformer = Transformer(config: config, weights: try file.llamaWeights(config: config))
            tokenizer = try Tokenizer(gguf: file)
            source = file.chatTemplate
            name = Self.displayName(path, dropQuantSuffix: true)
        case .huggingFace:
            transformer = try ModelLoader.loadTransformer(path: path)
            tokenizer = try Tokenizer(huggingFaceDirectory: path)
            source = HuggingFaceModel.chatTemplate(directory: path)
            name = Self.displayName(path, dropQuantSuffix: false)
        }
        usesFallbackTemplate = source == nil
        do {
            let fallback = transformer.config.architecture == "gemma3" ? Self.gemmaTemplate : Self.chatMLTemplate
            chatTemplate = try ChatTemplate(source: source ?? fallback)
        } catch {
            throw ModelFileError.badFormat(path: path, detail: "its chat template does not parse: \(error)")
        }
        toolFormat = ToolFormat.detect(chatTemplate, bos: tokenizer.bos.map(tokenizer.tokenText) ?? "",
                                       eos: tokenizer.eos.map(tokenizer.tokenText) ?? "")
        guard tokenizer.vocabularySize <= transformer.config.vocabSize else {
            throw ModelFileError.badFormat(path: path, detail: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(transformer.config.vocabSize) embeddings")
        }
    }

    /// "SmolLM2-135M-Instruct.Q4_1.gguf" → "SmolLM2-135M-Instruct"; a directory → its name.
    static func displayName(_ path: String, dropQuantSuffix: Bool) -> String {
        var stem = (path as NSString).lastPathComponent
        if stem.hasSuffix(".gguf") { stem = String(stem.dropLast(5)) }
        if dropQuantSuffix, let dot = stem.lastIndex(of: "."),
           stem[stem.index(after: dot)...].range(of: #"^(Q\d.*|F16|F32|BF16|IQ.*)$"#, options: [.regularExpression, .caseInsensitive]) != nil {
            stem = String(stem[..<dot])
        }
        return stem
    }

    /// The chat rendered with the model's template, as the model expects to continue it; `tools` (OpenAI's
    /// `{"type": "function", "function": {...}}` objects) and tool calls are written in the model's tool format.
    public func renderChat(_ messages: [ChatMessage], tools: [TemplateValue]? = nil, addGenerationPrompt: Bool) throws -> String {
        let (messages, tools) = toolFormat.prepare(messages, tools: tools)
        return try chatTemplate.render(ChatContext(
            messages: messages, tools: tools, addGenerationPrompt: addGenerationPrompt,
            bosToken: tokenizer.bos.map(tokenizer.tokenText) ?? "",
            eosToken: tokenizer.eos.map(tokenizer.tokenText) ?? ""))
    }

    /// Token ids of rendered text: special tokens written by the template are recognised, and BOS is added when the
    /// model wants one and the template did not write it.
    public func tokenize(rendered text: String) -> [Int] {
        var ids = tokenizer.encode(text, addSpecial: false, parseSpecial: true)
        if tokenizer.addBOS, let bos = tokenizer.bos, ids.first != bos { ids.insert(bos, at: 0) }
        return ids
    }

    /// The prompt for a chat whose texts come from end users (serving): rendered with the template, and tokenized so
    /// that text inside a message stays text. A user writing "<|im_start|>system" gets those characters, not a forged
    /// system turn; only the template's own special tokens become special ids.
    public func tokenizeChat(_ messages: [ChatMessage], tools: [TemplateValue]? = nil, addGenerationPrompt: Bool) throws -> [Int] {
        var shield = tokenizer.makeShield()
        let protected = messages.map { message -> ChatMessage in
            var m = message
            m.content = Self.protect(m.content, &shield)
            m.name = m.name.map { shield.protect($0) }
            m.toolCallID = m.toolCallID.map { shield.protect($0) }
            m.toolCalls = m.toolCalls.map { call in
                ToolCall(id: shield.protect(call.id), name: shield.protect(call.name), arguments: Self.protect(call.arguments, &shield))
            }
            return m
        }
        let protectedTools = tools.map { $0.map { Self.protect($0, &shield) } }
        let rendered = try renderChat(protected, tools: protectedTools, addGenerationPrompt: addGenerationPrompt)
        var ids = tokenizer.encode(rendered, addSpecial: false, parseSpecial: true, shield: shield)
        if tokenizer.addBOS, let bos = tokenizer.bos, ids.first != bos { ids.insert(bos, at: 0) }
        return ids
    }

    private static func protect(_ value: TemplateValue, _ shield: inout SpecialTextShield) -> TemplateValue {
        switch value {
        case .string(let s): return .string(shield.protect(s))
        case .array(let items): return .array(items.map { protect($0, &shield) })
        case .dict(let d): return .dict(TemplateDictionary(d.map { (shield.protect($0.key), protect($0.value, &shield)) }))
        default: return value
        }
    }

    /// Plain text (a completion prompt): special-token text is not interpreted.
    public func tokenize(plain text: String) -> [Int] {
        var ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        if tokenizer.addBOS, let bos = tokenizer.bos { ids.insert(bos, at: 0) }
        return ids
    }

    public var contextLength: Int { transformer.config.contextLength }
}
