package org.coworkecs.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** The {@code unique} token filter (analysis-common), here with {@code only_on_same_position}: Lucene's own filter. */
@NamedComponent("unique")
public class Unique implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream in) {
        return new RemoveDuplicatesTokenFilter(in);
    }
}
