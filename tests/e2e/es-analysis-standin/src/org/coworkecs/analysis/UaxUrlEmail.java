package org.coworkecs.analysis;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenizerFactory;

/** The {@code uax_url_email} tokenizer of Elasticsearch's analysis-common module (Lucene's own tokenizer). */
@NamedComponent("uax_url_email")
public class UaxUrlEmail implements TokenizerFactory {
    @Override
    public Tokenizer create() {
        return new UAX29URLEmailTokenizer();
    }
}
